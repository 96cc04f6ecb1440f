// charnn eval: scores text with a trained model: cross-entropy in nats and bits per unit, and
// perplexity. The text is cleaned exactly as the model's corpus was.
#include <charnn/checkpoint.hpp>
#include <charnn/error.hpp>
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

namespace charnn::app {

int run_eval(const std::vector<std::string>& args) {
  std::vector<std::string> files;
  std::string model_path;
  bool use_last = false, json = false;
  std::int64_t streams = 16, seq_len = 256;
  int threads = 0;
  po::options_description desc("Options");
  desc.add_options()("model,m", po::value(&model_path),
                     "checkpoint file or run directory (default: the latest run, runs/latest)")(
      "last", po::bool_switch(&use_last), "use the run's last.ckpt instead of best.ckpt")(
      "streams", po::value(&streams)->default_value(streams),
      "the text is cut into this many contiguous streams scored in parallel (each starts from "
      "a zero state; fewer streams = closer to one pass, slower)")(
      "seq-len", po::value(&seq_len)->default_value(seq_len),
      "steps per forward pass (state is carried between passes, so this only affects speed)")(
      "threads", po::value(&threads)->default_value(threads), "threads (0 = every core)")(
      "json", po::bool_switch(&json), "print one JSON object");
  add_plugin_options(desc);
  po::options_description hidden;
  hidden.add_options()("file", po::value(&files), "text files");
  po::positional_options_description pos;
  pos.add("file", -1);
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

  set_threads(threads);
  const PluginRegistry plugins = load_plugins(vm);
  const auto file =
      resolve_checkpoint(model_path, use_last ? CheckpointChoice::last : CheckpointChoice::best);
  LoadedModel loaded = load_model(file, plugins);
  if (!json) std::cerr << "charnn eval: model " << loaded.file.string() << "\n";
  std::vector<std::filesystem::path> paths(files.begin(), files.end());
  const std::string text = read_text(paths, loaded.vocab.text_options());
  const std::vector<std::int32_t> ids = loaded.vocab.encode(text);
  if (ids.size() < 2)
    throw error("the text has " + std::to_string(ids.size()) + " units; scoring needs at least 2");
  std::int64_t scored = 0;
  const double nats = evaluate_loss(*loaded.model, ids, streams, seq_len, &scored);
  const double bits = nats / std::log(2.0);
  const double ppl = std::exp(nats);
  char buf[512];
  if (json) {
    std::snprintf(buf, sizeof buf,
                  "{\"model\": %s, \"units\": %lld, \"scored\": %lld, \"nats_per_unit\": %.6f, "
                  "\"bits_per_unit\": %.6f, \"perplexity\": %.4f}\n",
                  json_string(loaded.file.string()).c_str(), static_cast<long long>(ids.size()),
                  static_cast<long long>(scored), nats, bits, ppl);
  } else {
    std::snprintf(buf, sizeof buf,
                  "%lld units scored (of %lld): %.4f nats/unit, %.4f bits/unit, perplexity %.3f\n",
                  static_cast<long long>(scored), static_cast<long long>(ids.size()), nats, bits,
                  ppl);
  }
  std::cout << buf;
  return 0;
}

}  // namespace charnn::app
