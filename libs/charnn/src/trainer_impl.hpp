// The trainer's state and steps, shared by trainer.cpp (the loop and what runs inside it) and
// train_setup.cpp (everything before the first step). Internal to the library.
#pragma once

#include "run_dir.hpp"
#include "thread_governor.hpp"
#include "train_state.hpp"

#include <charnn/batches.hpp>
#include <charnn/checkpoint.hpp>
#include <charnn/detail/train_faults.hpp>
#include <charnn/model.hpp>
#include <charnn/optimizer.hpp>
#include <charnn/progress.hpp>
#include <charnn/random.hpp>
#include <charnn/ranks.hpp>
#include <charnn/train_plan.hpp>
#include <charnn/trainer.hpp>
#include <charnn/weight_average.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

namespace charnn::detail {

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The dropout masks of an iteration follow the iteration, not the session, so a resumed run
// draws the same ones.
inline std::uint64_t dropout_seed(std::uint64_t seed, std::int64_t iteration) {
  return splitmix64(seed * 0x2545f4914f6cdd1dull + static_cast<std::uint64_t>(iteration));
}

// How evaluate_loss lays a text out: N streams of L units each, stream k from unit k x stride
// (contiguous: stride = L; spread over a longer text: spread_layout), scored in `segments`
// segments of T steps with the state carried. All zero when the text is too short to score.
struct EvalLayout {
  std::int64_t N = 0, T = 0, L = 0, segments = 0, stride = 0;
  std::int64_t units() const { return segments * T * N; }  // units scored
};
EvalLayout eval_layout(std::int64_t units, std::int64_t N, std::int64_t T);
// About `units` of a text of n, as N streams spread evenly over all of it: a sample of a split
// too long to score whole in the time there is. The contiguous layout when units >= n - 1.
EvalLayout spread_layout(std::int64_t n, std::int64_t units, std::int64_t N, std::int64_t T);
// The summed nats of streams [first, first + count) of the layout: one rank's share of a
// validation (ranks.hpp), or with (0, N) the whole of it. `done` (optional) is told the units
// this rank has scored after each batch of T steps, for a progress line.
double evaluate_streams(Model& model, std::span<const std::int32_t> ids, const EvalLayout& at,
                        std::int64_t first, std::int64_t count,
                        const std::function<void(std::int64_t)>& done = {});

// The corpus fingerprint as the checkpoint stores it.
inline std::string hex64(std::uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// Training loss and gradient norm summed since the last metrics row, and the throughput.
struct Window {
  double loss = 0, norm = 0;
  std::int64_t steps = 0;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  double rate = 0;  // units per second over the window
  std::int64_t bursts = 0;  // steps skipped (gradient_bursts.hpp), and their largest norm
  double burst_ratio = 0;   // over the running level

  double mean_loss() const { return steps ? loss / static_cast<double>(steps) : kNaN; }
  double mean_norm() const { return steps ? norm / static_cast<double>(steps) : kNaN; }
  void restart() { *this = Window{.rate = rate}; }
};

// Whether validation has gone (kFruitlessRollbacks + 1) x --rollback times without a better
// model (train_config.hpp), and at least an epoch: the point of the rollback that ends the run.
// The epoch keeps a run validated every few iterations going: there noise alone rolls back
// (--eval-every 3 on 4,000 lines went back twice within 18 iterations of its best model, 240
// iterations into a run whose loss was still falling fast).
inline bool rollbacks_exhausted(const TrainConfig& c, const TrainState& s,
                                std::int64_t iterations_per_epoch) {
  return c.rollback > 0 && s.best_iteration > 0 &&
         s.evals_since_best >= (kFruitlessRollbacks + 1) * c.rollback &&
         s.iteration - s.best_iteration >= iterations_per_epoch;
}

// Why a run with this config and state stops now ("time", "max_iters", "epochs",
// "early_stopping", "rollbacks"), or "" while it goes on.
inline std::string stop_reached(const TrainConfig& c, const TrainState& s, double elapsed) {
  if (c.max_iters > 0 && s.iteration >= c.max_iters) return "max_iters";
  if (c.epochs > 0 && s.position.epoch >= c.epochs) return "epochs";
  if (c.time_limit > 0 && elapsed >= c.time_limit) return "time";
  if (c.patience > 0 && s.evals_since_best >= c.patience) return "early_stopping";
  if (s.ended_on_best) return "rollbacks";
  return {};
}

// How far through its schedule the run is, in [0, 1]: the furthest of its iterations, epochs and
// time against their limits. The time counts from the first step: the learning-rate check's
// seconds (s.check_seconds) count against --time, but counted here they put the clock ahead of
// the iterations early in a run the plan ends by iterations (8 s of a 10-minute Genesis run, whose
// exposure limit ends it at 5m13s), so its rate followed the wall clock and two runs of one
// setting parted from the first steps (bench/RESULTS.md, 2026-12-07). `end` is the time kept for
// the end's validations.
inline double schedule_progress(const TrainConfig& c, const TrainState& s, double epoch_fraction,
                                double elapsed, double end) {
  if (s.extended_from > 0) return 1;  // --more: the schedule has ended
  double f = 0;
  if (c.max_iters > 0)
    f = std::max(f, static_cast<double>(s.iteration) / static_cast<double>(c.max_iters));
  if (c.epochs > 0) f = std::max(f, epoch_fraction / static_cast<double>(c.epochs));
  if (c.time_limit > 0) {
    const double span = c.time_limit - s.check_seconds - end;
    f = std::max(f, span > 0 ? (elapsed - s.check_seconds) / span : 1.0);
  }
  return std::min(f, 1.0);
}

// The spike guard (spike_guard.cpp), on while --rollback is: every kSpikeEvery iterations the
// model scores the first training batch, as the learning-rate check does. A score more than
// kSpikeMargin nats above the lowest so far means steps knocked the run off course, and the
// trainer goes back to the best model at half the rate, as after --rollback's validations.
// War and Peace for 2 hours (2x512 GRU at 2.5e-3, 2026-12-03): the gradients exploded at
// iterations 18,750-19,050 and the training loss went from 1.3 to 4.2 and stayed above 2.4, but
// validation only went back to the best model 20,000 iterations later, 28 of the 120 minutes
// lost. The training loss itself is no guide: its 50-iteration windows rose up to 0.63 above
// their lowest in a healthy run on Chinese fortunes, from harder text alone.
inline constexpr std::int64_t kSpikeEvery = 50;
inline constexpr double kSpikeMargin = 0.25;

// The most of --time the end's validation may take. 100 MB of C headers for 10 minutes: the
// whole split (5.0M units) took 2m07s past the budget (12m10s in all); at 5% the end scored
// 1.1M units spread over the split and the run took 10m03s. The suite's corpora (up to 0.43M
// validation units, ~11 s there) still score the whole split from a 4-minute budget on.
inline constexpr double kEndShare = 0.05;

class Trainer {
 public:
  // Reads the checkpoint's config when resuming, validates, sets the thread count.
  Trainer(const TrainConfig& given, const PluginRegistry& plugins, const TrainHooks& hooks,
          const TrainFaults& faults);

  TrainResult run();

 private:
  // Setting up.
  void load_resume(const TrainConfig& given);
  void extend(const TrainConfig& given);  // --more
  void prepare_data();
  void check_memory() const;
  void plan_settings();
  void check_learning_rate(TrainPlan& plan);
  WidthCost measure_width(std::int64_t hidden, bool timed);
  void build_model();
  void restore_from_checkpoint();
  void open_run();
  void start();
  // Ranks (ranks.hpp): the root sets up alone and sends its start to the others, which continue
  // from it as from a checkpoint; each rank then keeps its share of the streams.
  void share_start();
  void join_root(const std::string& start_bytes);
  void share_weights();              // the root's weights, moments and average to every rank
  void check_same_weights();         // every rank holds the root's parameters, or training stops
  std::vector<float> whole_state();  // the carried state of all N streams (the root's copy)
  // The batch at `at` as this rank's (T, n) share of the streams (all of it with one rank).
  void fill_share(DataPosition at, std::vector<std::int32_t>& inputs,
                  std::vector<std::int32_t>& targets);
  // The steps of one iteration.
  std::string stop_reason() const;
  void next_batch();
  double forward_backward();
  double combine_ranks(double loss);
  void guard_divergence(double loss, double norm, double lr);
  void advance(double loss, double norm);
  void log_validate_checkpoint(double lr);
  bool stop_requested() const;
  // The spike guard (spike_guard.cpp).
  void start_spike_guard();
  void guard_spikes();
  double fixed_batch_loss();
  // Gradient bursts (gradient_bursts.hpp): whether to skip this step's update; the message.
  bool skip_burst(double norm);
  void report_bursts();
  // Validation, checkpoints and the end.
  // The periodic validation (end_units 0), or the end's on that many units (end_units()).
  double validate_now(std::int64_t end_units, std::int64_t* scored);
  EvalLayout valid_layout(std::int64_t units) const;
  double score_layout(const EvalLayout& at, const std::function<void(int)>& percent = {});
  void rescore_old_best();
  void swap_in_average();
  void validate_and_save(bool last = false);
  bool snapshot_due() const;
  void roll_back();
  void read_best();  // the root's part of roll_back
  void end_on_best();
  double score_gone_back();
  void keep_snapshot(double valid);
  void validate_at_end();
  // The end of a run that validates on a slice scores the whole split, or, where that would take
  // more than kEndShare of --time, as much of it as fits, spread over it. --time counts the end:
  // training stops end_seconds() early (the last periodic validation and this one).
  std::int64_t end_units() const;
  double end_seconds() const;
  std::string end_label(std::int64_t units) const;  // "the whole split", "N units spread over ..."
  void write_curves() const;  // the loss curves page, from the root
  CheckpointData checkpoint(std::vector<float> state) const;
  void save_checkpoint(const std::filesystem::path& file);  // collective: every rank calls it
  void done_record(const std::string& reason, int signal);
  void metrics_row(double lr, double train_loss, double norm, double valid,
                   std::int64_t valid_units = 0, double trained_valid = kNaN,
                   bool end_of_run = false);
  TrainResult interrupt();
  TrainResult finish(const std::string& reason);
  TrainResult result() const;
  // Reporting.
  // Training seconds; with several ranks, the root's clock as of the last step, so that every
  // rank sees the same time budget and learning-rate schedule.
  double elapsed() const {
    return state_.elapsed + (ranks_.size() > 1 ? root_seconds_ : session_seconds());
  }
  double session_seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
  double progress_fraction() const;
  // The rate of the next step: the schedule at progress_fraction(), times the rollbacks' scale.
  double scheduled_lr() const;
  std::string status_line() const;
  std::string describe_best() const;
  std::string validation_text(double v) const;
  bool can_validate() const { return split_.valid.size() >= 2; }
  // --rollback's validations go back to the best model only once training has seen all of its
  // text: before that every batch was new text, which the model cannot have learnt by heart, and
  // a worse slice is the slice's noise, or text unlike what the streams trained on last. 100 MB
  // of C headers for 10 minutes (0.1 passes), the whole split at the end: 0.8368 without
  // rollbacks, 0.8309 with one (ending on iteration 4,734 of 4,973), 0.8837 with two and the end
  // on the best (iteration 3,126 of 4,464). The spike guard goes back at any time.
  bool past_first_pass() const {
    return state_.units_seen >= static_cast<std::int64_t>(split_.train.size());
  }
  // Whether --rollback may send the run back to its best model now (at a validation without
  // improvement, or at the end of a run that stopped on other weights).
  bool may_go_back() const {
    return config_.rollback > 0 && state_.best_iteration > 0 && can_validate() && past_first_pass();
  }
  bool eval_is_slice() const {
    return config_.eval_units > 0 &&
           static_cast<std::int64_t>(split_.valid.size()) > config_.eval_units;
  }
  // The units the periodic validation lays out over the split: --eval-units, or all of it.
  std::int64_t periodic_units() const {
    return eval_is_slice() ? config_.eval_units : static_cast<std::int64_t>(split_.valid.size());
  }

  Ranks& ranks_ = Ranks::world();
  StreamShare share_;                       // this rank's streams of the batch
  std::vector<std::int32_t> batch_inputs_;  // (T, N) the whole batch, with several ranks
  std::vector<std::int32_t> batch_targets_;
  double root_seconds_ = 0;  // the root's session seconds, agreed at the last step
  int agreed_signal_ = 0;    // SIGINT / SIGTERM on any rank, agreed at the last step
  const PluginRegistry& plugins_;
  const TrainHooks& hooks_;
  const TrainFaults& faults_;
  std::ostream& log_;
  TrainConfig config_;
  bool resuming_ = false;
  bool extending_ = false;  // --more on this resume
  CheckpointData resume_data_;
  std::filesystem::path run_dir_;
  RunLock lock_;  // of run_dir_, from before its checkpoint is read until training ends

  Vocab vocab_;
  std::vector<std::int32_t> ids_;  // the whole corpus as ids
  Split split_;                    // views into ids_
  std::uint64_t fingerprint_ = 0;  // of the training split, checked on resume

  std::unique_ptr<Model> model_;
  std::unique_ptr<Optimizer> optimizer_;
  std::unique_ptr<Batches> batches_;
  std::unique_ptr<WeightAverage> average_;  // --ema; null when off
  // With --ema, at the last periodic validation: the trained weights' loss and their average's.
  double trained_valid_ = kNaN, averaged_valid_ = kNaN;
  // Recurrent state carried across segments, (S_l, n, H), and the segment's ids, (T, n), for
  // this rank's n = share_.count streams (all N with one rank).
  Model::State carried_;
  std::vector<std::int32_t> inputs_;
  std::vector<std::int32_t> targets_;
  std::string precision_;  // what config_.precision resolved to
  TrainState state_;
  std::unique_ptr<MetricsLog> metrics_;
  std::unique_ptr<Progress> progress_;
  std::unique_ptr<ThreadGovernor> governor_;  // follows the free CPUs when --threads is automatic
  Window window_;
  std::vector<std::int32_t> fixed_inputs_, fixed_targets_;  // the spike guard's batch, (T, n)
  // Seconds per unit of one validation scoring: this process's last, and the one decisions use
  // (the root's, agreed at each step, so that every rank stops at the same step).
  double measured_spu_ = 0, eval_spu_ = 0;
  double last_lr_ = 0;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::int64_t session_start_iteration_ = 0;
  std::int64_t last_eval_iteration_ = -1;
  int signal_ = 0;
};

}  // namespace charnn::detail
