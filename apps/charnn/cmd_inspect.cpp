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

#include <iostream>
#include <string>
#include <vector>

#include "command.hpp"
#include "model_options.hpp"
#include "trace_options.hpp"

namespace charnn::app {

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

  const InspectOptions defaults;
  std::vector<std::string> probe_specs;
  std::string html;
  std::size_t top = defaults.top, html_top = defaults.html_top;
  std::int64_t max_units = defaults.max_units, html_units = defaults.excerpt_units,
               html_from = defaults.excerpt_begin;
  bool no_builtin = false;
  ModelFlags model;
  TraceFlags trace;
  po::options_description options("Options");
  add_model_options(options, model);
  add_trace_options(options, trace);
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
  po::positional_options_description positional;
  positional.add("text", -1);
  po::variables_map vm;
  if (!parse_options(help, options, positional, args, vm)) return 0;

  if (trace.texts.empty())
    throw error("no text given", "usage: charnn inspect [--model M] --text FILE", 2);
  if (top < 1) throw error("--top must be at least 1", {}, 2);
  if (max_units < 0 || html_units < 0 || html_from < 0 || trace.chunk < 1)
    throw error("--max-units, --html-units and --html-from must be >= 0, --chunk >= 1", {}, 2);
  const UnknownUnits unknown = parse_unknown_units(trace.unknown);
  // Check probes before the (slow) model run.
  std::vector<ProbeSpec> user_probes;
  for (const auto& s : probe_specs) user_probes.push_back(parse_probe_spec(s));
  if (no_builtin && user_probes.empty())
    throw error("--no-builtin leaves no probe", "add at least one --probe NAME=REGEX", 2);
  // Fail on an unwritable report path now, not after the model has run.
  std::unique_ptr<AtomicFile> html_out;
  if (!html.empty()) html_out = std::make_unique<AtomicFile>(html);

  LoadedModel loaded = open_model(model, vm);
  std::cerr << "charnn inspect: model " << loaded.file.string() << "\n";
  std::string source;
  TracedText text = read_model_text("inspect", loaded, trace.texts, unknown, &source);

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
  io.chunk = trace.chunk;
  io.progress = trace_progress("inspect");
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
