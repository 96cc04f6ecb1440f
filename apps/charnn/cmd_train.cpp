// charnn train: fills a TrainConfig from the command line and calls charnn::train. Ctrl-C and
// SIGTERM make the library finish its step and checkpoint; the exit code is then 130 / 143.
#include <charnn/error.hpp>
#include <charnn/trainer.hpp>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "command.hpp"

namespace charnn::app {

namespace {

// How --help shows a real default: "0.004", not Boost's "0.0040000000000000001".
std::string shown(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == ',') {
      out.push_back(cur);
      cur.clear();
    } else if (c != ' ') {
      cur.push_back(c);
    }
  }
  out.push_back(cur);
  return out;
}

}  // namespace

int run_train(const std::vector<std::string>& args) {
  TrainConfig c;  // library defaults, shown by --help
  std::vector<std::string> files;
  std::string cell = "lstm", optimizer = "adam", schedule = to_string(c.schedule.kind);
  std::string time = "15m", progress = "auto", out, resume, precision = "auto";
  std::string units = "grapheme", normalize = "nfc", on_invalid = "error", split = "0.9,0.05,0.05";
  bool keep_cr = false;
  int layers = static_cast<int>(c.cells.size());
  unsigned long long seed = c.seed;

  po::options_description model("Model");
  model.add_options()(
      "cell", po::value(&cell)->default_value(cell),
      "cell plugin of every layer (lstm, elman, or a plugin's name), or one per layer as a comma "
      "list, e.g. lstm,elman")("layers", po::value(&layers)->default_value(layers),
                               "number of stacked layers")(
      "hidden", po::value(&c.hidden)->default_value(c.hidden), "hidden units per layer (H)")(
      "dropout", po::value(&c.dropout)->default_value(c.dropout, shown(c.dropout)),
      "dropout between layers and before the output layer, in [0, 1)");
  po::options_description opt("Optimisation");
  opt.add_options()(
      "seq-len,T", po::value(&c.seq_len)->default_value(c.seq_len),
      "steps per segment: backpropagation through time is truncated here; state is carried on")(
      "batch,N", po::value(&c.batch)->default_value(c.batch), "parallel streams per step")(
      "optimizer", po::value(&optimizer)->default_value(optimizer), "adam, rmsprop or sgd")(
      "lr", po::value(&c.schedule.lr)->default_value(c.schedule.lr, shown(c.schedule.lr)),
      "peak learning rate")(
      "lr-schedule", po::value(&schedule)->default_value(schedule),
      "constant; epoch (x --lr-decay per epoch); cosine (down to --min-lr x lr over the planned "
      "run: --max-iters, --epochs or --time)")(
      "lr-decay",
      po::value(&c.schedule.decay)->default_value(c.schedule.decay, shown(c.schedule.decay)),
      "per-epoch factor for --lr-schedule epoch")(
      "decay-after",
      po::value(&c.schedule.decay_after)
          ->default_value(c.schedule.decay_after, shown(c.schedule.decay_after)),
      "epochs at the full rate before --lr-schedule epoch starts decaying")(
      "min-lr",
      po::value(&c.schedule.min_factor)
          ->default_value(c.schedule.min_factor, shown(c.schedule.min_factor)),
      "final rate of the cosine schedule, as a fraction of --lr")(
      "warmup", po::value(&c.schedule.warmup)->default_value(c.schedule.warmup),
      "iterations of linear learning-rate warm-up")(
      "clip", po::value(&c.clip)->default_value(c.clip, shown(c.clip)),
      "clip the global gradient norm to this (0 = off)")(
      "momentum",
      po::value(&c.optimizer.momentum)
          ->default_value(c.optimizer.momentum, shown(c.optimizer.momentum)),
      "SGD momentum")(
      "weight-decay",
      po::value(&c.optimizer.weight_decay)
          ->default_value(c.optimizer.weight_decay, shown(c.optimizer.weight_decay)),
      "L2 penalty added to the gradient")(
      "seed", po::value(&seed)->default_value(seed),
      "seed for the initial weights, dropout and epoch offsets");
  po::options_description stop("Stopping, validation and output");
  stop.add_options()(
      "time", po::value(&time)->default_value(time),
      "wall-clock training budget (90s, 15m, 1.5h; 0 = none). Applies by default only when "
      "neither --epochs nor --max-iters is given")("epochs",
                                                   po::value(&c.epochs)->default_value(c.epochs),
                                                   "stop after this many epochs (0 = no limit)")(
      "max-iters", po::value(&c.max_iters)->default_value(c.max_iters),
      "stop after this many iterations (0 = no limit)")(
      "patience", po::value(&c.patience)->default_value(c.patience),
      "early stopping: stop after this many validations without improvement (0 = off)")(
      "eval-every", po::value(&c.eval_every)->default_value(c.eval_every),
      "validate and checkpoint every K iterations (and at the end)")(
      "eval-units", po::value(&c.eval_units)->default_value(c.eval_units),
      "periodic validation uses at most this many units of the validation split (0 = all) and "
      "alone picks best.ckpt; at the end the whole split is scored as well")("log-every",
                                         po::value(&c.log_every)->default_value(c.log_every),
                                         "a metrics.csv row every K iterations")(
      "out,o", po::value(&out),
      "run directory (default: runs/<corpus>-<date>-<time>, and runs/latest points at it)")(
      "resume", po::value(&resume)->value_name("RUN_DIR|FILE"),
      "continue a run exactly where its last.ckpt stopped; only the stop conditions, "
      "--eval-*, --log-every, --lr, --clip and --precision may change")(
      "threads", po::value(&c.threads)->default_value(c.threads), "threads (0 = every core)")(
      "precision", po::value(&precision)->default_value(precision),
      "arithmetic of the recurrent layers' training passes: bf16 (bfloat16 matrix products "
      "with float32 accumulation, weights and states; ~1.7x faster), f32, or auto (bf16 where "
      "the CPU has AVX512_BF16). Validation, sampling and checkpoints are float32 either way")(
      "progress", po::value(&progress)->default_value(progress),
      "auto (a live line on a terminal, plain lines otherwise), live, plain or quiet");
  po::options_description text("Text (as in 'charnn vocab')");
  text.add_options()("units", po::value(&units)->default_value(units),
                     "grapheme, codepoint or byte")(
      "normalize", po::value(&normalize)->default_value(normalize), "nfc or none")(
      "on-invalid", po::value(&on_invalid)->default_value(on_invalid),
      "invalid UTF-8: error or replace")("keep-cr", po::bool_switch(&keep_cr),
                                         "keep CR and CRLF line ends")(
      "min-count", po::value(&c.vocab.min_count)->default_value(c.vocab.min_count),
      "units seen fewer times map to one unknown symbol")(
      "max-vocab", po::value(&c.vocab.max_vocab)->default_value(c.vocab.max_vocab),
      "keep at most this many ids (0 = no limit)")("split", po::value(&split)->default_value(split),
                                                   "train,valid,test fractions (contiguous)");
  po::options_description desc;
  desc.add(model).add(opt).add(stop).add(text);
  add_plugin_options(desc);
  po::options_description hidden;
  hidden.add_options()("file", po::value(&files), "corpus files");
  po::positional_options_description pos;
  pos.add("file", -1);

  const CommandHelp help{
      "train", "charnn train [options] CORPUS...",
      "Trains a character-level model on the text files (concatenated; cleaned as 'charnn vocab' "
      "shows) and writes a run directory with best.ckpt, last.ckpt, metrics.csv and config.json. "
      "The defaults (a 2x512 LSTM, 32 streams x 64 steps, Adam 2e-2 after 100 warm-up "
      "iterations with a cosine decay over the budget, clip 5, bf16 mixed precision where the "
      "CPU has it, 15 minutes) are chosen for a 2-core CPU; see docs/training.md. "
      "Validation loss is printed in nats and bits per unit. Ctrl-C or SIGTERM saves last.ckpt "
      "and prints how to resume (exit 130 / 143).",
      "charnn train corpora/fortunes.txt --time 4m"};
  po::variables_map vm;
  if (!parse_options(help, desc, hidden, pos, args, vm)) return 0;

  auto given = [&](const char* name) { return vm.count(name) && !vm[name].defaulted(); };
  if (files.empty() && resume.empty())
    throw error("no corpus file given", "usage: charnn train [options] CORPUS...", 2);

  c.corpus.assign(files.begin(), files.end());
  c.text.units = parse_unit_kind(units);
  c.text.normalize = parse_normalization(normalize);
  c.text.on_invalid = parse_on_invalid(on_invalid);
  c.text.normalize_newlines = !keep_cr;
  c.split = parse_split(split);
  c.optimizer.kind = parse_optimizer(optimizer);
  c.schedule.kind = parse_lr_schedule(schedule);
  c.seed = seed;
  if (given("time") || (!given("epochs") && !given("max-iters")))
    c.time_limit = parse_duration(time);
  auto names = split_list(cell);
  if (names.size() == 1) {
    if (layers < 1) throw error("--layers must be at least 1", {}, 2);
    c.cells.assign(static_cast<std::size_t>(layers), names[0]);
  } else {
    if (given("layers") && layers != static_cast<int>(names.size()))
      throw error("--cell lists " + std::to_string(names.size()) + " layers but --layers is " +
                      std::to_string(layers),
                  "give one cell name, or drop --layers", 2);
    c.cells = names;
  }
  if (progress == "auto")
    c.progress = TrainConfig::ProgressMode::automatic;
  else if (progress == "live")
    c.progress = TrainConfig::ProgressMode::live;
  else if (progress == "plain")
    c.progress = TrainConfig::ProgressMode::plain;
  else if (progress == "quiet")
    c.progress = TrainConfig::ProgressMode::quiet;
  else
    throw error("unknown --progress '" + progress + "'", "use auto, live, plain or quiet", 2);
  c.out = out;
  c.precision = parse_step_precision(precision);

  if (!resume.empty()) {
    c.resume = resume;
    if (given("out"))
      throw error("--out cannot be combined with --resume (the run stays in its directory)", {}, 2);
    // Options the user typed become overrides of the checkpoint's config; the library refuses
    // the ones that would change the run itself.
    const std::vector<std::pair<const char*, const char*>> keys = {{"cell", "cells"},
                                                                   {"layers", "cells"},
                                                                   {"hidden", "hidden"},
                                                                   {"dropout", "dropout"},
                                                                   {"seq-len", "seq_len"},
                                                                   {"batch", "batch"},
                                                                   {"optimizer", "optimizer"},
                                                                   {"lr", "lr"},
                                                                   {"precision", "precision"},
                                                                   {"lr-schedule", "lr_schedule"},
                                                                   {"lr-decay", "lr_decay"},
                                                                   {"decay-after", "decay_after"},
                                                                   {"min-lr", "min_lr_factor"},
                                                                   {"warmup", "warmup"},
                                                                   {"clip", "clip"},
                                                                   {"momentum", "momentum"},
                                                                   {"weight-decay", "weight_decay"},
                                                                   {"seed", "seed"},
                                                                   {"time", "time_limit"},
                                                                   {"epochs", "epochs"},
                                                                   {"max-iters", "max_iters"},
                                                                   {"patience", "patience"},
                                                                   {"eval-every", "eval_every"},
                                                                   {"eval-units", "eval_units"},
                                                                   {"log-every", "log_every"},
                                                                   {"units", "units"},
                                                                   {"normalize", "normalize"},
                                                                   {"on-invalid", "on_invalid"},
                                                                   {"keep-cr", "newlines"},
                                                                   {"min-count", "min_count"},
                                                                   {"max-vocab", "max_vocab"},
                                                                   {"split", "split"},
                                                                   {"file", "corpus"}};
    for (const auto& [option, key] : keys)
      if (given(option)) c.resume_overrides.emplace_back(key);
  }

  const PluginRegistry plugins = load_plugins(vm);
  install_stop_signals();
  TrainHooks hooks;
  hooks.watch_signals = true;
  const TrainResult r = train(c, plugins, hooks);
  if (r.signal != 0) return 128 + r.signal;
  return 0;
}

}  // namespace charnn::app
