// charnn eval: scores text with a trained model: cross-entropy in nats and bits per unit, and
// perplexity, of every unit as one stream predicts it (trace.hpp). The text is cleaned exactly as
// the model's corpus was.
#include <charnn/checkpoint.hpp>
#include <charnn/error.hpp>
#include <charnn/json.hpp>
#include <charnn/model.hpp>
#include <charnn/text.hpp>
#include <charnn/threads.hpp>
#include <charnn/trace.hpp>
#include <charnn/vocab.hpp>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "command.hpp"
#include "model_options.hpp"
#include "trace_options.hpp"

namespace charnn::app {

int run_eval(const std::vector<std::string>& args) {
  std::vector<std::string> files;
  bool json = false;
  TraceFlags trace;
  ModelFlags model;
  po::options_description desc("Options");
  add_model_options(desc, model, "threads (0 = every CPU not kept busy by another process)");
  add_unknown_option(desc, trace.unknown);
  add_trace_run_options(desc, trace);
  desc.add_options()("json", po::bool_switch(&json), "print one JSON object");
  po::options_description hidden;
  po::positional_options_description pos;
  add_file_arguments(hidden, pos, files);
  const CommandHelp help{
      "eval", "charnn eval [--model M] [options] FILE...",
      "Scores text files (concatenated) with a trained model and prints the cross-entropy in "
      "nats per unit, bits per unit and perplexity: every unit after the first, predicted as "
      "one stream carried from the start of the text predicts it (the trace options change the "
      "speed, not the figure). Units are the model's (grapheme clusters by default); the text "
      "is cleaned as the training corpus was, and --unknown says what happens to units the "
      "vocabulary lacks.",
      "charnn eval --model runs/latest --unknown skip held-out.txt"};
  po::variables_map vm;
  if (!parse_options(help, desc, hidden, pos, args, vm)) return 0;
  if (files.empty()) throw error("no text file given", "usage: charnn eval [--model M] FILE...", 2);
  const TraceOptions options = trace_options(trace);
  const UnknownUnits unknown = parse_unknown_units(trace.unknown);

  LoadedModel loaded = open_model(model, vm);
  if (!json) std::cerr << "charnn eval: model " << loaded.file.string() << "\n";
  const TracedText text = read_model_text("eval", loaded, files, unknown);
  if (text.ids.size() < 2)
    throw error("the text has " + std::to_string(text.ids.size()) +
                    " unit(s) the model knows; scoring needs at least 2",
                "give a longer text");
  const TextScore score = score_text(*loaded.model, text.ids, options, trace_progress("eval"));
  const double bits = score.nats / std::log(2.0);
  const double ppl = std::exp(score.nats);
  const std::int64_t skipped = unknown == UnknownUnits::skip ? text.unknown_count : 0;
  const std::int64_t mapped = unknown == UnknownUnits::map ? text.unknown_count : 0;
  if (json) {
    Json j;
    j["model"] = loaded.file.string();
    j["units"] = text.ids.size();
    j["scored"] = score.scored;
    j["skipped"] = skipped;
    j["mapped"] = mapped;
    j["nats_per_unit"] = score.nats;
    j["bits_per_unit"] = bits;
    j["perplexity"] = ppl;
    j["trace"] = describe(score.trace);
    std::cout << json_text(j) << "\n";
    return 0;
  }
  if (score.trace.streams > 1 || score.trace.restarted_at >= 0)
    std::cerr << "charnn eval: traced " << describe(score.trace) << "\n";
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "%lld units scored (every unit after the first of %lld%s): %.4f nats/unit, "
                "%.4f bits/unit, perplexity %.3f\n",
                static_cast<long long>(score.scored), static_cast<long long>(text.ids.size()),
                skipped ? (", " + std::to_string(skipped) + " unknown skipped").c_str() : "",
                score.nats, bits, ppl);
  std::cout << buf;
  return 0;
}

}  // namespace charnn::app
