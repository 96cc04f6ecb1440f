// charnn dump: writes a model's per-unit hidden signals over a text to disk (NPY by default),
// with units.json lining each row up with the text. Thin: options -> DumpOptions, dump_trace.
#include <charnn/checkpoint.hpp>
#include <charnn/dump.hpp>
#include <charnn/error.hpp>
#include <charnn/inspect.hpp>
#include <charnn/plugin_registry.hpp>
#include <charnn/text.hpp>
#include <charnn/threads.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "command.hpp"

namespace charnn::app {

namespace {

// "0,1" or repeated options -> items.
std::vector<std::string> split_list(const std::vector<std::string>& values) {
  std::vector<std::string> out;
  for (const auto& v : values) {
    std::stringstream ss(v);
    std::string item;
    while (std::getline(ss, item, ','))
      if (!item.empty()) out.push_back(item);
  }
  return out;
}

}  // namespace

int run_dump(const std::vector<std::string>& args) {
  const CommandHelp help{
      "dump", "charnn dump [--model M] --text FILE --out DIR [options]",
      "Runs a trained model over a text (one stream, state carried from the start) and writes,\n"
      "for every unit of the text, the signals each layer traces: h, and for an LSTM also the\n"
      "cell c and the gates i, f, o, g. Formats: npy (default; DIR/layer<L>_<signal>.npy, float32\n"
      "[units x hidden]), csv (DIR/layer<L>_<signal>.csv) or jsonl (DIR/trace.jsonl, one object\n"
      "per unit). DIR/units.json lists the units (JSON-escaped) and their byte offsets in the\n"
      "cleaned text, so row i of every array is unit i. Streams: the text's trace is never\n"
      "held in memory whole. Files appear only once complete.\n"
      "In Python:  h = numpy.load('DIR/layer0_h.npy'); "
      "units = json.load(open('DIR/units.json'))['units']",
      "charnn dump --model runs/latest --text corpus.txt --out trace --layer 1 --signal c"};

  std::vector<std::string> texts, layer_args, signal_args;
  std::string model, out, format = "npy", unknown = "error";
  std::int64_t chunk = 512;
  int threads = 0;
  po::options_description options("Options");
  add_trace_options(options, model, texts, unknown, chunk, threads);
  options.add_options()("out,o", po::value(&out)->value_name("DIR"),
                        "output directory (created if missing)")(
      "layer", po::value(&layer_args)->value_name("L[,L...]")->composing(),
      "layers to write, from 0 (default: all)")(
      "signal", po::value(&signal_args)->value_name("NAME[,NAME...]")->composing(),
      "signals to write, e.g. h,c (default: all the cells trace)")(
      "format,f", po::value(&format)->default_value(format)->value_name("npy|csv|jsonl"),
      "output format");
  add_plugin_options(options);
  po::variables_map vm;
  if (!parse_options(help, options, {}, args, vm)) return 0;

  if (texts.empty())
    throw error("no text given", "usage: charnn dump [--model M] --text FILE --out DIR", 2);
  if (out.empty()) throw error("no output directory given", "add --out DIR", 2);
  if (chunk < 1) throw error("--chunk must be at least 1", {}, 2);
  DumpOptions dopt;
  dopt.format = parse_dump_format(format);
  for (const auto& l : split_list(layer_args)) {
    try {
      std::size_t used = 0;
      const int v = std::stoi(l, &used);
      if (used != l.size()) throw std::invalid_argument(l);
      dopt.layers.push_back(v);
    } catch (const std::logic_error&) {
      throw error("--layer '" + l + "' is not a layer number", "e.g. --layer 0 or --layer 0,1", 2);
    }
  }
  dopt.signals = split_list(signal_args);
  dopt.chunk = chunk;
  const UnknownUnits unknown_policy = parse_unknown_units(unknown);

  set_threads(threads);
  const PluginRegistry plugins = load_plugins(vm);
  const auto file =
      resolve_checkpoint(model, vm.count("last") ? CheckpointChoice::last : CheckpointChoice::best);
  LoadedModel loaded = load_model(file, plugins);
  std::cerr << "charnn dump: model " << loaded.file.string() << "\n";
  select_signals(*loaded.model, dopt);  // a bad --layer/--signal fails before reading the text

  std::vector<std::filesystem::path> paths(texts.begin(), texts.end());
  std::string source;
  for (const auto& t : texts) source += (source.empty() ? "" : " + ") + t;
  const TracedText text = prepare_text(read_text(paths, loaded.vocab.text_options()), loaded.vocab,
                                       unknown_policy, source);
  if (text.unknown_count > 0)
    std::cerr << "charnn dump: " << (unknown_policy == UnknownUnits::skip ? "skipped " : "mapped ")
              << text.unknown_count << " unit(s) not in the vocabulary\n";

  dopt.unit_kind = to_string(loaded.vocab.unit_kind());
  if (::isatty(STDERR_FILENO) == 1) {
    auto last = std::make_shared<std::chrono::steady_clock::time_point>();
    dopt.progress = [last](std::int64_t done, std::int64_t total) {
      const auto now = std::chrono::steady_clock::now();
      if (done < total && now - *last < std::chrono::milliseconds(200)) return;
      *last = now;
      std::fprintf(stderr, "\rcharnn dump: %lld/%lld units%s", static_cast<long long>(done),
                   static_cast<long long>(total), done >= total ? "\n" : "");
    };
  }
  const DumpResult result = dump_trace(*loaded.model, text, out, dopt);
  std::cout << "wrote " << result.units << " units to " << out << ":\n";
  for (const auto& f : result.files) std::cout << "  " << f.string() << "\n";
  return 0;
}

}  // namespace charnn::app
