// charnn eval: scores text with a trained model: cross-entropy in nats and bits per unit, and
// perplexity. The text is cleaned exactly as the model's corpus was.
#include <charnn/checkpoint.hpp>
#include <charnn/error.hpp>
#include <charnn/json.hpp>
#include <charnn/model.hpp>
#include <charnn/text.hpp>
#include <charnn/threads.hpp>
#include <charnn/trainer.hpp>
#include <charnn/vocab.hpp>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "command.hpp"
#include "model_options.hpp"

namespace charnn::app {

int run_eval(const std::vector<std::string>& args) {
  std::vector<std::string> files;
  bool json = false;
  std::int64_t streams = 16, seq_len = 256;
  ModelFlags model;
  po::options_description desc("Options");
  add_model_options(desc, model, "threads (0 = every CPU not kept busy by another process)");
  desc.add_options()(
      "streams", po::value(&streams)->default_value(streams),
      "the text is cut into this many contiguous streams scored in parallel (each starts from "
      "a zero state; fewer streams = closer to one pass, slower)")(
      "seq-len", po::value(&seq_len)->default_value(seq_len),
      "steps per forward pass (state is carried between passes, so this only affects speed)")(
      "json", po::bool_switch(&json), "print one JSON object");
  po::options_description hidden;
  po::positional_options_description pos;
  add_file_arguments(hidden, pos, files);
  const CommandHelp help{
      "eval", "charnn eval [--model M] [options] FILE...",
      "Scores text files (concatenated) with a trained model and prints the cross-entropy in "
      "nats per unit, bits per unit and perplexity. Units are the model's (grapheme clusters by "
      "default); the text is cleaned as the training corpus was.",
      "charnn eval --model runs/latest held-out.txt"};
  po::variables_map vm;
  if (!parse_options(help, desc, hidden, pos, args, vm)) return 0;
  if (files.empty()) throw error("no text file given", "usage: charnn eval [--model M] FILE...", 2);
  if (streams < 1 || seq_len < 1) throw error("--streams and --seq-len must be at least 1", {}, 2);

  LoadedModel loaded = open_model(model, vm);
  if (!json) std::cerr << "charnn eval: model " << loaded.file.string() << "\n";
  const std::vector<std::int32_t> ids =
      read_model_text("eval", loaded, files, UnknownUnits::error).ids;
  if (ids.size() < 2)
    throw error("the text has " + std::to_string(ids.size()) + " units; scoring needs at least 2");
  std::int64_t scored = 0;
  const double nats = evaluate_loss(*loaded.model, ids, streams, seq_len, &scored);
  const double bits = nats / std::log(2.0);
  const double ppl = std::exp(nats);
  if (json) {
    Json j;
    j["model"] = loaded.file.string();
    j["units"] = ids.size();
    j["scored"] = scored;
    j["nats_per_unit"] = nats;
    j["bits_per_unit"] = bits;
    j["perplexity"] = ppl;
    std::cout << json_text(j) << "\n";
    return 0;
  }
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "%lld units scored (of %lld): %.4f nats/unit, %.4f bits/unit, perplexity %.3f\n",
                static_cast<long long>(scored), static_cast<long long>(ids.size()), nats, bits,
                ppl);
  std::cout << buf;
  return 0;
}

}  // namespace charnn::app
