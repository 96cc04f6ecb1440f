// charnn dump: writes a model's hidden signals (one value per neuron, per unit of text) to disk
// (NPY by default), with units.json lining each row up with the text. Thin: options -> DumpOptions, dump_trace.
#include <charnn/checkpoint.hpp>
#include <charnn/dump.hpp>
#include <charnn/error.hpp>
#include <charnn/inspect.hpp>
#include <charnn/plugin_registry.hpp>
#include <charnn/text.hpp>
#include <charnn/threads.hpp>

#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "command.hpp"
#include "model_options.hpp"
#include "trace_options.hpp"

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
      "dump", "charnn dump [--model M] --out DIR [options] FILE...",
      "Runs a trained model over a text (as one stream, state carried from the start) and writes,\n"
      "for every unit of the text, the signals each layer traces, one value per neuron: h, for an\n"
      "LSTM also the cell c and the gates i, f, o, g, for a GRU the gates r, z, n. Formats: npy\n"
      "(default; DIR/layer<L>_<signal>.npy, float32 [units of text x neurons]), csv\n"
      "(DIR/layer<L>_<signal>.csv) or jsonl (DIR/trace.jsonl, one object per unit).\n"
      "DIR/units.json lists the units (JSON-escaped) and their byte offsets in the cleaned text,\n"
      "so row i of every array is unit i. Streams: the text's trace is never held in memory\n"
      "whole. Files appear only once complete.\n"
      "In Python:\n"
      "  h = numpy.load('DIR/layer0_h.npy')\n"
      "  units = json.load(open('DIR/units.json'))['units']",
      "charnn dump --model runs/latest --text corpus.txt --out trace --layer 1 --signal c"};

  std::vector<std::string> layer_args, signal_args;
  std::string out, format = to_string(DumpOptions{}.format);
  ModelFlags model;
  TraceFlags trace;
  po::options_description options("Options");
  add_model_options(options, model);
  add_trace_options(options, trace);
  options.add_options()("out,o", po::value(&out)->value_name("DIR"),
                        "output directory (created if missing)")(
      "layer", po::value(&layer_args)->value_name("L[,L...]")->composing(),
      "layers to write, from 0 (default: all)")(
      "signal", po::value(&signal_args)->value_name("NAME[,NAME...]")->composing(),
      "signals to write, e.g. h,c (default: all the cells trace)")(
      "format,f", po::value(&format)->default_value(format)->value_name("npy|csv|jsonl"),
      "output format");
  po::variables_map vm;
  po::positional_options_description positional;
  positional.add("text", -1);
  if (!parse_options(help, options, positional, args, vm)) return 0;

  if (trace.texts.empty())
    throw error("no text given", "usage: charnn dump [--model M] --out DIR FILE...", 2);
  if (out.empty()) throw error("no output directory given", "add --out DIR", 2);
  DumpOptions dopt;
  dopt.trace = trace_options(trace);
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
  const UnknownUnits unknown = parse_unknown_units(trace.unknown);

  LoadedModel loaded = open_model(model, vm);
  std::cerr << "charnn dump: model " << loaded.file.string() << "\n";
  select_signals(*loaded.model, dopt);  // a bad --layer/--signal fails before reading the text
  const TracedText text = read_model_text("dump", loaded, trace.texts, unknown);

  dopt.unit_kind = to_string(loaded.vocab.unit_kind());
  dopt.progress = trace_progress("dump");
  const DumpResult result = dump_trace(*loaded.model, text, out, dopt);
  if (result.trace.streams > 1) std::cerr << "charnn dump: traced " << describe(result.trace) << "\n";
  std::cout << "wrote " << result.units << " units to " << out << ":\n";
  for (const auto& f : result.files) std::cout << "  " << f.string() << "\n";
  return 0;
}

}  // namespace charnn::app
