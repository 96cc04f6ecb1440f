// charnn inspect: runs a trained model over a text and finds the hidden units that track
// interpretable features (inside quotes, column in line, ...). Thin: options -> probes and
// InspectOptions; the library's inspect_model and report writers do the work.
#include <charnn/atomic_file.hpp>
#include <charnn/checkpoint.hpp>
#include <charnn/error.hpp>
#include <charnn/inspect.hpp>
#include <charnn/plugin_registry.hpp>
#include <charnn/probes.hpp>
#include <charnn/report.hpp>
#include <charnn/text.hpp>
#include <charnn/threads.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "command.hpp"

namespace charnn::app {

namespace {

// "\r<what>: 41% (1200000/3000000 units)" on a terminal, at most every 200 ms; nothing otherwise.
std::function<void(std::int64_t, std::int64_t)> progress_line(const std::string& what) {
  if (::isatty(STDERR_FILENO) != 1) return {};
  auto last = std::make_shared<std::chrono::steady_clock::time_point>();
  return [what, last](std::int64_t done, std::int64_t total) {
    const auto now = std::chrono::steady_clock::now();
    if (done < total && now - *last < std::chrono::milliseconds(200)) return;
    *last = now;
    std::fprintf(stderr, "\r%s: %3d%% (%lld/%lld units)%s", what.c_str(),
                 static_cast<int>(100 * done / std::max<std::int64_t>(1, total)),
                 static_cast<long long>(done), static_cast<long long>(total),
                 done >= total ? "\n" : "");
    std::fflush(stderr);
  };
}

}  // namespace

int run_inspect(const std::vector<std::string>& args) {
  const CommandHelp help{
      "inspect", "charnn inspect [--model M] --text FILE [options]",
      "Runs a trained model over a text (one stream, state carried from the start) and finds,\n"
      "for each probe, the hidden units whose activation best tracks it: Pearson r over every\n"
      "analysed unit of text, and AUROC for yes/no probes. Every traced signal of every layer\n"
      "is ranked (h; for an LSTM also the cell c and the gates i, f, o, g). Built-in probes:\n"
      "in_quotes, column, line_left, bracket_depth, word_start, after_sentence; add your own\n"
      "with --probe NAME=REGEX (ICU syntax; every unit inside a match is 1). Prints a table and,\n"
      "for LSTM layers, gate saturation (fraction of time each gate is < 0.1 or > 0.9, as in\n"
      "Karpathy, Johnson and Fei-Fei 2015). --html writes one self-contained page with the text\n"
      "coloured by each top unit, the per-unit loss and the gate saturation.",
      "charnn inspect --model runs/latest --text corpus.txt --html report.html"};

  std::vector<std::string> texts, probe_specs;
  std::string model, html, unknown = "error";
  std::size_t top = 5, html_top = 3;
  std::int64_t max_units = 0, html_units = 2000, html_from = 0, chunk = 512;
  int threads = 0;
  bool no_builtin = false;
  po::options_description options("Options");
  add_trace_options(options, model, texts, unknown, chunk, threads);
  options.add_options()("probe", po::value(&probe_specs)->value_name("NAME=REGEX")->composing(),
                        "add a probe: 1 on every unit inside a match of REGEX (repeatable)")(
      "no-builtin", po::bool_switch(&no_builtin), "only the --probe probes")(
      "top,k", po::value(&top)->default_value(top)->value_name("K"), "units listed per probe")(
      "max-units", po::value(&max_units)->default_value(max_units)->value_name("N"),
      "analyse only the first N units of the text (0 = all of it). The model runs as one "
      "stream: a 2x512 LSTM traced about 2,000 units/s on a busy 2-core machine, so all of "
      "War and Peace takes roughly 20-25 minutes")("html", po::value(&html)->value_name("FILE"),
                                                   "write the HTML report to FILE")(
      "html-units", po::value(&html_units)->default_value(html_units)->value_name("N"),
      "length of the text excerpt drawn in the HTML report")(
      "html-from", po::value(&html_from)->default_value(html_from)->value_name("UNIT"),
      "index of the excerpt's first unit")(
      "html-top", po::value(&html_top)->default_value(html_top)->value_name("K"),
      "units drawn over the excerpt per probe");
  add_plugin_options(options);
  po::positional_options_description positional;
  positional.add("text", -1);
  po::variables_map vm;
  if (!parse_options(help, options, positional, args, vm)) return 0;

  if (texts.empty())
    throw error("no text given", "usage: charnn inspect [--model M] --text FILE", 2);
  if (top < 1) throw error("--top must be at least 1", {}, 2);
  if (max_units < 0 || html_units < 0 || html_from < 0 || chunk < 1)
    throw error("--max-units, --html-units and --html-from must be >= 0, --chunk >= 1", {}, 2);
  const UnknownUnits unknown_policy = parse_unknown_units(unknown);
  // Check probes before the (slow) model run.
  std::vector<ProbeSpec> user_probes;
  for (const auto& s : probe_specs) user_probes.push_back(parse_probe_spec(s));
  if (no_builtin && user_probes.empty())
    throw error("--no-builtin leaves no probe", "add at least one --probe NAME=REGEX", 2);
  // Fail on an unwritable report path now, not after the model has run.
  std::unique_ptr<AtomicFile> html_out;
  if (!html.empty()) html_out = std::make_unique<AtomicFile>(html);

  set_threads(threads);
  const PluginRegistry plugins = load_plugins(vm);
  const auto file =
      resolve_checkpoint(model, vm.count("last") ? CheckpointChoice::last : CheckpointChoice::best);
  LoadedModel loaded = load_model(file, plugins);
  std::cerr << "charnn inspect: model " << loaded.file.string() << "\n";

  std::vector<std::filesystem::path> paths(texts.begin(), texts.end());
  std::string source;
  for (const auto& t : texts) source += (source.empty() ? "" : " + ") + t;
  TracedText text = prepare_text(read_text(paths, loaded.vocab.text_options()), loaded.vocab,
                                 unknown_policy, source);
  if (text.unknown_count > 0)
    std::cerr << "charnn inspect: "
              << (unknown_policy == UnknownUnits::skip ? "skipped " : "mapped ")
              << text.unknown_count << " unit(s) not in the vocabulary\n";

  std::vector<Probe> probes;
  if (!no_builtin) probes = builtin_probes(text.text, text.boundaries);
  for (const auto& p : user_probes) {
    for (const auto& q : probes)
      if (q.name == p.name)
        throw error("--probe " + p.name + " is defined twice (or shadows a built-in probe)",
                    "choose another NAME", 2);
    probes.push_back(regex_probe(p, text.text, text.boundaries));
  }

  InspectOptions io;
  io.top = top;
  io.html_top = html.empty() ? 0 : std::min(html_top, top);
  io.max_units = max_units;
  io.excerpt_begin = html_from;
  io.excerpt_units = html.empty() ? 0 : html_units;
  io.chunk = chunk;
  io.progress = progress_line("charnn inspect");
  InspectReport report = inspect_model(*loaded.model, text, probes, io);
  report.model = loaded.file.string();
  report.text = source;
  report.unit_kind = to_string(loaded.vocab.unit_kind());

  write_terminal_report(std::cout, report);
  if (html_out) {
    write_html_report(html_out->stream(), report);
    html_out->commit();
    std::cout << "\nHTML report: " << std::filesystem::absolute(html).lexically_normal().string()
              << "\n";
  }
  return 0;
}

}  // namespace charnn::app
