// charnn inspect: runs a trained model over a text and finds the neurons that track
// interpretable features (inside quotes, column in line, ...). Thin: options -> probes and
// InspectOptions; the library's inspect_model and report writers do the work.
#include <charnn/atomic_file.hpp>
#include <charnn/checkpoint.hpp>
#include <charnn/error.hpp>
#include <charnn/inspect.hpp>
#include <charnn/loss_curves.hpp>
#include <charnn/metrics_file.hpp>
#include <charnn/plugin_registry.hpp>
#include <charnn/probes.hpp>
#include <charnn/report.hpp>
#include <charnn/text.hpp>
#include <charnn/threads.hpp>

#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include "command.hpp"
#include "model_options.hpp"
#include "trace_options.hpp"

namespace charnn::app {

namespace {

// The command line of charnn inspect; defaults from the library's InspectOptions.
struct InspectFlags {
  std::vector<std::string> probe_specs, select_regexes, select_spans;
  std::string html, colours = "scaled";
  std::size_t top = InspectOptions{}.top, html_top = InspectOptions{}.html_top;
  std::size_t match_neurons = InspectOptions{}.match_neurons;
  std::int64_t max_units = InspectOptions{}.max_units;
  std::int64_t html_units = InspectOptions{}.excerpt_units;
  std::int64_t html_from = InspectOptions{}.excerpt_begin;
  bool no_builtin = false;
  ModelFlags model;
  TraceFlags trace;
};

void add_inspect_options(po::options_description& options, InspectFlags& f) {
  add_model_options(options, f.model);
  add_trace_options(options, f.trace);
  options.add_options()(
      "probe", po::value(&f.probe_specs)->value_name("NAME=REGEX")->composing(),
      "add a probe: 1 on every unit of text inside a match of REGEX (repeatable)")(
      "no-builtin", po::bool_switch(&f.no_builtin), "only the --probe probes")(
      "select", po::value(&f.select_regexes)->value_name("REGEX")->composing(),
      "hypothesis search: mark every unit of text inside a match of REGEX and rank the neurons "
      "that are on there and off elsewhere; then find the other stretches of text where the "
      "best of them are on together (a second pass over the text). Repeatable: one search each")(
      "select-span", po::value(&f.select_spans)->value_name("FROM:TO")->composing(),
      "hypothesis search over units FROM to TO of the text (TO not included; the HTML report "
      "shows a unit's index on hover). Repeatable")(
      "match-neurons", po::value(&f.match_neurons)->default_value(f.match_neurons)->value_name("K"),
      "a stretch matches a selection when its best K neurons (those scoring within 0.1 of the "
      "best) are on together")("top,k", po::value(&f.top)->default_value(f.top)->value_name("K"),
                               "neurons listed per probe")(
      "max-units", po::value(&f.max_units)->default_value(f.max_units)->value_name("N"),
      "analyse only the first N units of the text (0 = all of it). A 2x512 GRU trained on "
      "War and Peace runs at about 45,000 units/s on an idle 2-core machine (the whole book "
      "in about 70 s); a model that remembers too far back for one pass (see --streams) runs "
      "at about 10,000")("html", po::value(&f.html)->value_name("FILE"),
                               "write the HTML report to FILE")(
      "html-units", po::value(&f.html_units)->default_value(f.html_units)->value_name("N"),
      "length of the text excerpt drawn in the HTML report")(
      "html-from", po::value(&f.html_from)->default_value(f.html_from)->value_name("UNIT"),
      "index of the excerpt's first unit")(
      "html-top", po::value(&f.html_top)->default_value(f.html_top)->value_name("K"),
      "neurons drawn over the excerpt per probe")(
      "colours", po::value(&f.colours)->default_value(f.colours)->value_name("scaled|raw"),
      "how the HTML report colours a neuron: scaled (blue to red over its own 2nd to 98th "
      "percentile in the excerpt, so that an LSTM cell state far from 0 still shows its "
      "variation) or raw (gates 0 to 1, other signals -1 to +1, unbounded ones through tanh, as "
      "in Karpathy et al.)");
}

// The built-in probes (unless no_builtin) and the user's, whose names must be new.
std::vector<Probe> make_probes(const TracedText& text, bool no_builtin,
                               const std::vector<ProbeSpec>& user_probes) {
  std::vector<Probe> probes;
  if (!no_builtin) probes = builtin_probes(text.text, text.boundaries);
  for (const auto& p : user_probes) {
    for (const auto& q : probes)
      if (q.name == p.name)
        throw error("--probe " + p.name + " is defined twice (or shadows a built-in probe)",
                    "choose another NAME", 2);
    probes.push_back(regex_probe(p, text.text, text.boundaries));
  }
  return probes;
}

// Where the HTML excerpt starts when the user did not say: a little before the first selected
// unit, so that the selection is drawn with some text that leads up to it.
std::int64_t excerpt_start(const Probe& selection, std::int64_t analysed, std::int64_t units) {
  std::int64_t first = 0;
  while (first < analysed && selection.values[static_cast<std::size_t>(first)] < 0.5f) ++first;
  const std::int64_t lead = std::min<std::int64_t>(200, units / 4);
  return std::clamp<std::int64_t>(first - lead, 0, std::max<std::int64_t>(0, analysed - 1));
}

}  // namespace

int run_inspect(const std::vector<std::string>& args) {
  const CommandHelp help{
      "inspect", "charnn inspect [--model M] --text FILE [options]",
      "Runs a trained model over a text (as one stream, state carried from the start) and finds,\n"
      "for each probe, the neurons (hidden units) whose activation best tracks it: Pearson r over\n"
      "every analysed unit of text, and AUROC for yes/no probes. Every traced signal of every\n"
      "layer is ranked (h; for an LSTM also the cell c and the gates i, f, o, g; for a GRU the\n"
      "gates r, z and n). Built-in probes:\n"
      "in_quotes, column, line_left, bracket_depth, word_start, after_sentence; add your own\n"
      "with --probe NAME=REGEX (ICU syntax; every unit of text inside a match is 1). Prints a\n"
      "table and, for gated layers, gate saturation (fraction of time each gate is < 0.1 or\n"
      "> 0.9, as in Karpathy, Johnson and Fei-Fei 2015). --html writes one self-contained page\n"
      "with the text coloured by each top neuron, the loss of each unit of text and the gate\n"
      "saturation.\n"
      "Hypothesis search (as in LSTMVis): mark what you think a neuron tracks with --select REGEX\n"
      "or --select-span FROM:TO; charnn ranks the neurons that are on there and off elsewhere and\n"
      "finds other stretches of the text where the best of them switch on together.",
      "charnn inspect --model runs/latest --text corpus.txt --html report.html\n"
      "  charnn inspect --text corpus.txt --select '\\([^)]*\\)' --html parens.html"};

  InspectFlags f;
  po::options_description options("Options");
  add_inspect_options(options, f);
  po::positional_options_description positional;
  positional.add("text", -1);
  po::variables_map vm;
  if (!parse_options(help, options, positional, args, vm)) return 0;

  if (f.trace.texts.empty())
    throw error("no text given", "usage: charnn inspect [--model M] --text FILE", 2);
  if (f.top < 1) throw error("--top must be at least 1", {}, 2);
  if (f.max_units < 0 || f.html_units < 0 || f.html_from < 0)
    throw error("--max-units, --html-units and --html-from must be >= 0", {}, 2);
  if (f.colours != "scaled" && f.colours != "raw")
    throw error("--colours " + f.colours + " is not a colouring", "use scaled or raw", 2);
  const TraceOptions trace = trace_options(f.trace);
  const UnknownUnits unknown = parse_unknown_units(f.trace.unknown);
  // Check probes before the (slow) model run.
  std::vector<ProbeSpec> user_probes;
  for (const auto& s : f.probe_specs) user_probes.push_back(parse_probe_spec(s));
  const bool searching = !f.select_regexes.empty() || !f.select_spans.empty();
  if (f.no_builtin && user_probes.empty() && !searching)
    throw error("--no-builtin leaves no probe",
                "add at least one --probe NAME=REGEX, --select REGEX or --select-span FROM:TO", 2);
  if (f.match_neurons < 1) throw error("--match-neurons must be at least 1", {}, 2);
  // Fail on an unwritable report path now, not after the model has run.
  std::unique_ptr<AtomicFile> html_out;
  if (!f.html.empty()) html_out = std::make_unique<AtomicFile>(f.html);

  LoadedModel loaded = open_model(f.model, vm);
  std::cerr << "charnn inspect: model " << loaded.file.string() << "\n";
  std::string source;
  TracedText text = read_model_text("inspect", loaded, f.trace.texts, unknown, &source);
  const std::int64_t analysed =
      f.max_units > 0 ? std::min(f.max_units, text.units()) : text.units();
  if (!f.html.empty() && f.html_from >= analysed)
    throw error(
        "--html-from " + std::to_string(f.html_from) + " is past the " + std::to_string(analysed) +
            " units analysed",
        "the excerpt must start inside them: --html-from 0 to " + std::to_string(analysed - 1), 2);

  const std::vector<Probe> probes = make_probes(text, f.no_builtin, user_probes);
  std::vector<Probe> selections;
  for (const auto& spec : f.select_spans) selections.push_back(select_span(spec, analysed));
  for (const auto& re : f.select_regexes)
    selections.push_back(select_regex(re, text.text, text.boundaries));
  if (!f.html.empty() && vm["html-from"].defaulted() && !selections.empty())
    f.html_from = excerpt_start(selections.front(), analysed, f.html_units);

  InspectOptions io;
  io.top = f.top;
  io.html_top = f.html.empty() ? 0 : std::min(f.html_top, f.top);
  io.max_units = f.max_units;
  io.excerpt_begin = f.html_from;
  io.excerpt_units = f.html.empty() ? 0 : f.html_units;
  io.match_neurons = f.match_neurons;
  io.trace = trace;
  io.progress = trace_progress("inspect");
  InspectReport report = inspect_model(*loaded.model, text, probes, io, selections);
  report.model = loaded.file.string();
  report.text = source;
  report.unit_kind = to_string(loaded.vocab.unit_kind());
  // A model from a run directory: that run's curves go into the report.
  const MetricsFile metrics = read_metrics_file(loaded.file.parent_path() / "metrics.csv");
  if (!metrics.rows.empty()) report.curves_svg = loss_curves_svg(metrics.rows, false);

  write_terminal_report(std::cout, report);
  if (html_out) {
    write_html_report(html_out->stream(), report,
                      f.colours == "raw" ? ReportColours::raw : ReportColours::scaled);
    html_out->commit();
    std::cout << "\nHTML report: " << std::filesystem::absolute(f.html).lexically_normal().string()
              << "\n";
  }
  return 0;
}

}  // namespace charnn::app
