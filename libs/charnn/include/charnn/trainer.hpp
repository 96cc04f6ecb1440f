// Training end to end: read and split the corpus, build the vocabulary and the model, run the
// optimiser over truncated-BPTT segments, validate, checkpoint (last.ckpt and best.ckpt), log
// metrics, stop on a budget / early stopping / a signal / divergence, and resume exactly.
// train() is the library entry point; `charnn train` only fills a TrainConfig.
#pragma once

#include <charnn/train_config.hpp>

#include <csignal>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace charnn {

class PluginRegistry;

// What a caller can watch or control; all optional. (Fault injection for tests is in
// charnn/detail/train_faults.hpp.)
struct TrainHooks {
  std::ostream* log = nullptr;  // progress and messages; nullptr = std::cerr
  // After each optimiser step: iteration (1-based, the step just done) and its training loss.
  std::function<void(std::int64_t iteration, double loss)> on_step;
  bool watch_signals = false;  // honour install_stop_signals()
};

struct TrainResult {
  std::filesystem::path run_dir;
  // "time", "max_iters", "epochs", "early_stopping", "rollbacks" (ended on the best model after
  // --rollback's rollbacks found no better one), "interrupted"
  std::string stop_reason;
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

}  // namespace charnn
