// The training configuration: TrainConfig, the options struct `charnn train` fills, and
// train_options(), the one table that declares each setting once: its command-line flag,
// default, help, value name, validation, whether --resume may change it, and its config.json /
// checkpoint key. The CLI, config.json, the checkpoint header, validation and the resume rules
// are all derived from the table, so a new option is one row plus the code that uses it.
#pragma once

#include <charnn/model.hpp>
#include <charnn/optimizer.hpp>
#include <charnn/text.hpp>
#include <charnn/vocab.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace charnn {

// An integer setting left to the training plan (train_plan.hpp): chosen from the corpus size,
// the budget and the measured speed when the run starts, then stored as a number.
inline constexpr std::int64_t kAuto = -1;
inline constexpr float kAutoDropout = -1.0f;
inline constexpr double kAutoLr = -1;
inline constexpr double kDefaultTime = -1;  // --time not given (see time_limit)
inline constexpr double kAutoMaxExposure = -1;
inline constexpr double kAutoWeightDrop = -1;

// --rollback: where a run that has gone back to its best model this many times without finding
// a better one would go back once more, it ends on the best model instead: rollbacks at ever
// lower rates have stopped paying, and the rest of the budget would only train models worse
// than the best. On Thai (327k units, 2x512 GRU, runs limited by --max-exposure, 2026-12-05)
// and Genesis (184k units, a whole 10-minute budget) no rollback after the best model found a
// better one: the validation after each scored 0.002-0.04 above the best, and the runs ended
// 0.003-0.031 above it. Every War and Peace and ru run that rolled back found a better model
// after its first rollback or ended before a third.
inline constexpr std::int64_t kFruitlessRollbacks = 2;

// --weight-decay: every weight shrinks by lr x 0.3 each step, apart from Adam's update (AdamW;
// at the GRU's 2.5e-3 a weight nothing pulls on halves in ~900 steps). Seed 2 of the four
// tuning corpora of the suite, 10 minutes each with every other default (a 2x512 GRU, dropout
// 0.4, weight drop 0.15), none / 0.1 / 0.3 / 1: German jokes 1.7747 / 1.7709 / 1.7561 / 1.7609,
// the licences 1.3655 / 1.3377 / 1.3058 / 1.3070, perldiag 1.2240 / 1.2127 / 1.2110, Thai
// 2.7273 / 2.7093; held out: Genesis 1.1120 / - / 1.1037, KJV (which learns its text by heart
// without dropout) 1.1598 / - / 1.1268, but the Russian fortunes (not yet learning theirs by
// heart, dropout 0.25) 1.2704 / - / 1.2834 (docs/training.md).
inline constexpr double kWeightDecay = 0.3;

// The defaults are the tool's choice for a 2-core CPU (see docs/training.md for why).
struct TrainConfig {
  std::vector<std::filesystem::path> corpus;  // files, concatenated in order
  TextOptions text;
  VocabOptions vocab;
  SplitFractions split;  // train / validation / test, contiguous

  std::vector<std::string> cells = {"gru", "gru"};  // one cell name per layer
  std::int64_t hidden = kAuto;   // auto: the widest of 512, 384, ... the budget can train
  float dropout = kAutoDropout;  // auto: from the planned passes over the training text
  DropoutMask dropout_mask = DropoutMask::step;
  // DropConnect on the recurrent weights (ModelConfig::weight_drop); auto: from the planned
  // exposure, as dropout.
  double weight_drop = kAutoWeightDrop;

  std::int64_t seq_len = 64;  // T: steps per segment (truncated BPTT length)
  std::int64_t batch = 32;    // N: parallel streams
  // Adam with decoupled weight decay (AdamW) at kWeightDecay.
  OptimizerConfig optimizer{.weight_decay = kWeightDecay,
                            .weight_decay_mode = WeightDecayMode::decoupled};
  // Peak rate auto (planned_lr: 2e-2 for up to 128 units, lower for larger vocabularies) after
  // 100 warm-up iterations, cosine to the end of the budget: measured on War and Peace with the
  // default model and batch, where peaks from 1.2e-2 to 3e-2 all beat 4e-3 and 2e-3 by far, and
  // the warm-up keeps the start from stalling (docs/training.md).
  LrSchedule schedule{.kind = LrScheduleKind::cosine, .lr = kAutoLr, .warmup = kAuto};
  double clip = 5.0;  // max global gradient norm; 0 = off
  // Skip the optimiser step when the gradient norm is more than this many times its running
  // level (gradient_bursts.hpp); 0 = off.
  double skip_bursts = 10;
  // A running average of the weights (weight_average.hpp) with this decay per step; validation
  // scores it beside the trained weights and the checkpoints keep the better; 0 = off.
  double ema = 0.999;
  // Arithmetic of the training passes' products (the cell layers', and the output layer's when a
  // cell layer took bf16): automatic = bf16 mixed precision where the CPU runs bfloat16 natively
  // (about 1.7x faster here, same loss per iteration), else f32.
  StepPrecision precision = StepPrecision::automatic;

  // Stop conditions; the first reached ends the run. 0 = not set. time_limit left at
  // kDefaultTime is 15 minutes (kDefaultTimeLimit) when neither epochs nor max_iters is set.
  std::int64_t epochs = 0;
  std::int64_t max_iters = 0;
  double time_limit = kDefaultTime;  // seconds of training (wall clock, summed over resumes)
  // Stop at this exposure (train_plan.hpp's memorisation: passes x parameters per unit of
  // text); auto: planned_max_exposure when only the time limits the run, else none; 0 = none.
  // The plan turns it into max_iters.
  double max_exposure = kAutoMaxExposure;
  std::int64_t patience = 0;  // stop after this many validations without improvement; 0 = off
  // After this many validations in a row without improvement, go back to best.ckpt (weights and
  // optimiser moments) and halve the learning rate for the rest of the run; after
  // kFruitlessRollbacks such rollbacks and an epoch without a better model, end the run on it;
  // 0 = off.
  std::int64_t rollback = 2;

  // Validate every K iterations (and always at the end); auto: about 12 times in the run (36 when
  // it learns its text by heart: the exposure limit ends it, or it passes 32x the dropout start).
  std::int64_t eval_every = kAuto;
  // Bound on the validation slice for periodic checks; 0 = all; auto: 20,000-100,000 units, so
  // that validation costs about 5% of the training time.
  std::int64_t eval_units = kAuto;
  std::int64_t log_every = 50;       // metrics.csv row every K iterations
  // Every K iterations, validate and keep the model as iter-<K>-val-<loss>.ckpt; 0 = off.
  std::int64_t keep_every = 0;

  std::filesystem::path out;     // run directory; empty = runs/<stem>-<YYYYmmdd-HHMMSS>
  std::filesystem::path resume;  // run directory or checkpoint to continue; empty = new run
  // With resume: seconds to train a finished run past its budget, at the rate its schedule ended
  // on (not kept: the extended budget is kept as time_limit).
  double more = 0;
  // Only these options may differ from the checkpoint on --resume; keys as in the table
  // (e.g. "max_iters", "time_limit", "lr"). Values come from this config.
  std::vector<std::string> resume_overrides;

  std::uint64_t seed = 1;
  int threads = 0;  // 0 = automatic: free CPUs at the start, fewer while others compete
  // Refuse a new run whose estimated memory (memory_estimate.hpp) exceeds what is available.
  bool check_memory = true;
  // What the plan chose and why (train_plan.hpp), for the banner, config.json and checkpoint.
  std::string plan;

  enum class ProgressMode { automatic, live, plain, quiet, json };
  ProgressMode progress = ProgressMode::automatic;  // live line on a terminal, else plain lines
};

inline constexpr double kDefaultTimeLimit = 15 * 60;

// Where --help lists an option.
enum class TrainOptionGroup { model, optimisation, stopping, text, positional };
// How the command line reads the value: integer and real are checked by the option parser,
// text is read by the row itself, a switch takes no value ("1" when given).
enum class TrainValueKind { integer, real, text, switch_ };

// What is wrong with a value, and what to do; an empty `what` means nothing is wrong.
struct TrainOptionProblem {
  std::string what;
  std::string hint;
};

// One training setting. Several rows may feed one key (--cell and --layers both give "cells");
// only the row with `get` writes it.
struct TrainOption {
  const char* flag = nullptr;  // Boost name, e.g. "seq-len,T"; nullptr = not on the command line
  const char* key = nullptr;   // config.json and checkpoint "config.<key>"; nullptr = not kept
  TrainOptionGroup group = TrainOptionGroup::optimisation;
  TrainValueKind kind = TrainValueKind::text;
  const char* value_name = nullptr;  // nullptr = the parser's "arg"
  const char* help = "";
  bool resumable = false;  // --resume may change it
  // The value as stored in config.json and the checkpoint. nullptr = another row stores it.
  std::string (*get)(const TrainConfig&) = nullptr;
  // Reads a stored value back. Throws charnn::error on bad text.
  void (*set)(TrainConfig&, const std::string&) = nullptr;
  // Reads the command-line text; nullptr = the same as set.
  void (*set_from_cli)(TrainConfig&, const std::string&) = nullptr;
  // The default --help shows, from a default TrainConfig; nullptr = get, or none without get.
  std::string (*shown)(const TrainConfig&) = nullptr;
  // What an older checkpoint without the key meant; nullptr = the key is required.
  const char* missing = nullptr;
  // Validation of the value in a whole config; `name` is how messages name the option.
  TrainOptionProblem (*check)(const TrainConfig&, const std::string& name) = nullptr;
};

// Every training setting, in --help order.
std::span<const TrainOption> train_options();

// How messages name a config key or a flag's long name: "--time" for "time_limit",
// "--cell/--layers" for "cells", "the corpus" for "corpus", "--out" for "out".
std::string option_name(const std::string& key);

// Throws charnn::error on the first value the table's checks reject.
void validate(const TrainConfig& config);

// The config as key/values (the checkpoint header's config.* entries) and back.
std::map<std::string, std::string> config_to_keys(const TrainConfig& config);
TrainConfig config_from_keys(const std::map<std::string, std::string>& keys,
                             const std::filesystem::path& source);
// config.json: numbers as JSON numbers in shortest round-trip form, the rest as strings.
std::string config_to_json(const TrainConfig& config);

// "15m", "90s", "1.5h", "2h30m", "600" (seconds) -> seconds. Throws charnn::error otherwise.
double parse_duration(std::string_view text);
std::string format_duration(double seconds);  // "1h02m", "4m05s", "12s"

}  // namespace charnn
