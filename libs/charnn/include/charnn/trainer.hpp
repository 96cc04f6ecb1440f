// Training end to end: read and split the corpus, build the vocabulary and the model, run the
// optimiser over truncated-BPTT segments, validate, checkpoint (last.ckpt and best.ckpt), log
// metrics, stop on a budget / early stopping / a signal / divergence, and resume exactly.
// train() is the library entry point; `charnn train` only fills a TrainConfig.
#pragma once

#include <charnn/model.hpp>
#include <charnn/optimizer.hpp>
#include <charnn/text.hpp>
#include <charnn/vocab.hpp>

#include <csignal>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace charnn {

class PluginRegistry;

// The defaults are the tool's choice for a 2-core CPU (see docs/training.md for why).
struct TrainConfig {
  std::vector<std::filesystem::path> corpus;  // files, concatenated in order
  TextOptions text;
  VocabOptions vocab;
  SplitFractions split;  // train / validation / test, contiguous

  std::vector<std::string> cells = {"lstm", "lstm"};  // one cell name per layer
  std::int64_t hidden = 512;
  float dropout = 0.0f;

  std::int64_t seq_len = 64;  // T: steps per segment (truncated BPTT length)
  std::int64_t batch = 32;    // N: parallel streams
  OptimizerConfig optimizer;
  // Peak 2e-2 after 100 warm-up iterations, cosine to the end of the budget: measured on War
  // and Peace with the default model and batch, where peaks from 1.2e-2 to 3e-2 all beat 4e-3
  // and 2e-3 by far, and the warm-up keeps the start from stalling (docs/training.md).
  LrSchedule schedule{.kind = LrScheduleKind::cosine, .lr = 2e-2, .warmup = 100};
  double clip = 5.0;  // max global gradient norm; 0 = off
  // Arithmetic of the cell layers' training passes: automatic = bf16 mixed precision where the
  // CPU runs bfloat16 natively (about 1.7x faster here, same loss per iteration), else f32.
  StepPrecision precision = StepPrecision::automatic;

  // Stop conditions; the first reached ends the run. 0 = not set. When none of the three is
  // set, time_limit defaults to 15 minutes (kDefaultTimeLimit).
  std::int64_t epochs = 0;
  std::int64_t max_iters = 0;
  double time_limit = 0;      // seconds of training (wall clock, summed over resumes)
  std::int64_t patience = 0;  // stop after this many validations without improvement; 0 = off

  std::int64_t eval_every = 500;     // validate every K iterations (and always at the end)
  std::int64_t eval_units = 100000;  // bound on the validation slice for periodic checks; 0 = all
  std::int64_t log_every = 50;       // metrics.csv row every K iterations

  std::filesystem::path out;     // run directory; empty = runs/<stem>-<YYYYmmdd-HHMMSS>
  std::filesystem::path resume;  // run directory or checkpoint to continue; empty = new run
  // Only these options may differ from the checkpoint on --resume; names as in the header
  // (e.g. "max_iters", "time_limit", "lr"). Values come from this config.
  std::vector<std::string> resume_overrides;

  std::uint64_t seed = 1;
  int threads = 0;  // 0 = every core

  enum class ProgressMode { automatic, live, plain, quiet };
  ProgressMode progress = ProgressMode::automatic;  // live line on a terminal, else plain lines
};

inline constexpr double kDefaultTimeLimit = 15 * 60;

// Test and app hooks; all optional.
struct TrainHooks {
  std::ostream* log = nullptr;  // progress and messages; nullptr = std::cerr
  // After each optimiser step: iteration (1-based, the step just done) and its training loss.
  std::function<void(std::int64_t iteration, double loss)> on_step;
  // Simulates an interrupt after this iteration (like SIGINT: checkpoint, return). 0 = never.
  std::int64_t interrupt_after = 0;
  // Test hook: pretend the loss of this iteration (1-based) is NaN. 0 = never.
  std::int64_t inject_nan_at = 0;
  bool watch_signals = false;  // honour install_stop_signals()
};

struct TrainResult {
  std::filesystem::path run_dir;
  std::string stop_reason;  // "time", "max_iters", "epochs", "early_stopping", "interrupted"
  int signal = 0;           // SIGINT / SIGTERM when interrupted by a signal
  std::int64_t iterations = 0;
  double epochs = 0;            // fractional epochs done
  double train_loss = 0;        // smoothed training loss, nats per unit
  double valid_loss = 0;        // last validation (the whole split at the end), nats per unit
  double best_valid_loss = 0;   // best periodic validation (eval_units), nats/unit; Inf if none
  double seconds = 0;           // training wall time, summed over resumes
  double units_per_second = 0;  // this session's training throughput, including validation
};

// Trains as configured. Throws charnn::error on bad input, and on divergence (NaN/Inf loss or
// gradients: the message names the iteration; best.ckpt is left untouched).
TrainResult train(const TrainConfig& config, const PluginRegistry& plugins,
                  const TrainHooks& hooks = {});

// Loss over ids with N streams of T steps (state carried within each stream), in nats per unit.
// Scores as many units as fit in whole streams; *scored receives how many.
class Model;
double evaluate_loss(Model& model, std::span<const std::int32_t> ids, std::int64_t N,
                     std::int64_t T, std::int64_t* scored = nullptr);

// SIGINT/SIGTERM handlers that only record the signal (a second one kills as usual), so the
// training loop can finish its step and write a checkpoint. pending_stop_signal() is 0 until then.
void install_stop_signals();
int pending_stop_signal();

// "15m", "90s", "1.5h", "2h30m", "600" (seconds) -> seconds. Throws charnn::error otherwise.
double parse_duration(std::string_view text);
std::string format_duration(double seconds);  // "1h02m", "4m05s", "12s"

// The config as key/values (the checkpoint header's train.* entries) and back.
std::map<std::string, std::string> config_to_keys(const TrainConfig& config);
TrainConfig config_from_keys(const std::map<std::string, std::string>& keys,
                             const std::filesystem::path& source);

}  // namespace charnn
