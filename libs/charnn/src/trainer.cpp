// The training loop: next batch, forward, backward, clip, update, then log, validate and
// checkpoint; stop on a budget, early stopping, a signal or divergence. Validation, rollbacks
// and snapshots (trainer_validation.cpp), the run directory and metrics.csv (run_dir.hpp), the
// resumable state (train_state.hpp), the banner (train_banner.hpp) and the option table
// (train_config.hpp) live in their own units.
#include "charnn/trainer.hpp"

#include "train_banner.hpp"
#include "trainer_impl.hpp"
#include "util.hpp"

#include <charnn/error.hpp>
#include <charnn/json.hpp>
#include <charnn/loss_curves.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>

namespace charnn {

using namespace detail;

namespace {

volatile std::sig_atomic_t g_stop_signal = 0;

extern "C" void on_stop_signal(int sig) {
  g_stop_signal = sig;
  std::signal(sig, SIG_DFL);  // a second Ctrl-C ends the process at once
}

}  // namespace

void install_stop_signals() {
  g_stop_signal = 0;
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
}

int pending_stop_signal() {
  return static_cast<int>(g_stop_signal);
}

namespace detail {

// The loop, as in a textbook: batch, forward, backward, clip, update, log.
TrainResult Trainer::run() {
  start();
  std::string reason;
  while ((reason = stop_reason()).empty()) {
    next_batch();
    const double lr = scheduled_lr();
    last_lr_ = lr;
    const double loss = forward_backward();
    const double norm = clip_by_global_norm(model_->grads(), config_.clip);
    guard_divergence(loss, norm, lr);
    if (!skip_burst(norm)) {
      optimizer_->step(model_->params(), model_->grads(), lr);
      if (average_) average_->update(model_->params(), state_.iteration + 1);
    }
    advance(loss, norm);
    guard_spikes();
    log_validate_checkpoint(lr);
    if (const std::string change = governor_->poll(); !change.empty())
      progress_->message("  " + change);
    if (stop_requested()) return interrupt();
  }
  return finish(reason);
}

std::string Trainer::stop_reason() const {
  return stop_reached(config_, state_, elapsed() + end_seconds());
}

void Trainer::next_batch() {
  if (state_.position.segment == 0)  // a new epoch: streams jump, so the carried state restarts
    for (auto& l : carried_.layers) std::fill(l.begin(), l.end(), 0.0f);
  fill_share(state_.position, inputs_, targets_);
}

// Forward and backward over the segment; the gradients land in model_->grads().
double Trainer::forward_backward() {
  double loss = model_->train_step(inputs_, targets_, config_.seq_len, carried_,
                                   dropout_seed(config_.seed, state_.iteration),
                                   {.first = share_.first, .total = share_.total});
  if (faults_.inject_nan_at == state_.iteration + 1) loss = kNaN;
  if (faults_.burst_at == state_.iteration + 1)
    for (float& g : model_->grads()) g *= 1e4f;
  return ranks_.size() > 1 ? combine_ranks(loss) : loss;
}

void Trainer::guard_divergence(double loss, double norm, double lr) {
  if (std::isfinite(loss) && std::isfinite(norm)) return;
  progress_->finish();
  const std::string lr_flag = option_name("lr"), clip_flag = option_name("clip");
  throw error(
      "training diverged at iteration " + std::to_string(state_.iteration + 1) + ": the loss is " +
          fixed(loss, 4) + " and the gradient norm " + fixed(norm, 4) + " (learning rate " +
          short_num(lr) + "); " + describe_best() + ", kept in " +
          (run_dir_ / "best.ckpt").string(),
      "lower the learning rate or the clipping threshold (now " + lr_flag + " " +
          short_num(config_.schedule.lr) + ", " + clip_flag + " " + short_num(config_.clip) +
          "); to continue from the last checkpoint: " + "charnn train " + option_name("resume") +
          " " + run_dir_.string() + " " + lr_flag + " " + short_num(config_.schedule.lr / 2));
}

void Trainer::advance(double loss, double norm) {
  const std::int64_t units = config_.seq_len * config_.batch;
  ++state_.iteration;
  state_.at_best = 0;
  state_.finished = 0;
  state_.units_seen += units;
  state_.position = batches_->next(state_.position);
  state_.train_ema = std::isnan(state_.train_ema) ? loss : 0.95 * state_.train_ema + 0.05 * loss;
  window_.loss += loss;
  window_.norm += norm;
  ++window_.steps;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - window_.start).count();
  if (seconds > 0) window_.rate = static_cast<double>(window_.steps * units) / seconds;
  if (hooks_.on_step) hooks_.on_step(state_.iteration, loss);
}

void Trainer::log_validate_checkpoint(double lr) {
  const bool eval = state_.iteration % config_.eval_every == 0 || snapshot_due();
  const bool log = state_.iteration % config_.log_every == 0;
  if (eval)
    validate_and_save();
  else if (log)
    metrics_row(lr, window_.mean_loss(), window_.mean_norm(), kNaN);
  if (eval || log) {
    report_bursts();
    window_.restart();
  }
  progress_->update(status_line());
}

bool Trainer::stop_requested() const {
  if (faults_.interrupt_after > 0 && state_.iteration == faults_.interrupt_after) return true;
  if (ranks_.size() > 1) return agreed_signal_ != 0;
  return hooks_.watch_signals && pending_stop_signal() != 0;
}

void Trainer::write_curves() const {
  if (metrics_) write_loss_curves(run_dir_, metrics_->rows());
}

void Trainer::save_checkpoint(const std::filesystem::path& file) {
  std::vector<float> state = whole_state();
  if (ranks_.root()) write_checkpoint(file, checkpoint(std::move(state)));
}

// The run as a checkpoint, with `state` the carried state of all N streams.
CheckpointData Trainer::checkpoint(std::vector<float> state) const {
  CheckpointData d;
  for (const auto& [k, v] : config_to_keys(config_)) d.header["config." + k] = v;
  d.header["charnn.version"] = CHARNN_VERSION;
  TrainState now = state_;
  now.elapsed = elapsed();
  now.optimizer_steps = optimizer_->steps();
  now.streams = config_.batch;
  now.save(d);
  d.header["corpus.fingerprint"] = hex64(fingerprint_);
  d.set("corpus.train_units", static_cast<std::int64_t>(split_.train.size()));
  d.vocab = vocab_;
  store_model(*model_, d);
  if (average_) {
    d.live = d.params;
    d.average.assign(average_->values().begin(), average_->values().end());
    if (state_.average_chosen) d.params = d.average;
  }
  d.optimizer.assign(optimizer_->state().begin(), optimizer_->state().end());
  d.state = std::move(state);
  return d;
}

void Trainer::metrics_row(double lr, double train_loss, double norm, double valid,
                          std::int64_t valid_units, double trained_valid, bool end_of_run) {
  if (!metrics_) return;  // a rank other than the root
  const MetricsRow row{.iteration = state_.iteration,
                       .epoch = batches_->epoch_fraction(state_.position),
                       .seconds = elapsed(),
                       .units = state_.units_seen,
                       .lr = lr,
                       .train_loss = train_loss,
                       .grad_norm = norm,
                       .valid_loss = valid,
                       .units_per_second = window_.rate,
                       .valid_units = valid_units,
                       .trained_valid_loss = trained_valid,
                       .end_of_run = end_of_run};
  metrics_->write(row);
  if (!progress_->json()) return;
  // The same fields as metrics.csv, NaN as null; a validation row also says whether it is the
  // new best (the whole split at the end never is: it is not compared).
  Json j{{"event", std::isnan(valid) ? "log" : "validation"},
         {"iteration", row.iteration},
         {"epoch", row.epoch},
         {"seconds", row.seconds},
         {"units", row.units},
         {"lr", row.lr},
         {"train_loss", row.train_loss},
         {"grad_norm", row.grad_norm},
         {"valid_loss", row.valid_loss},
         {"units_per_second", row.units_per_second},
         {"valid_units", row.valid_units},
         {"trained_valid_loss", row.trained_valid_loss}};
  if (!std::isnan(valid)) {
    j["validation"] = end_of_run ? "end" : "periodic";
    j["best"] = !end_of_run && state_.best_iteration == state_.iteration && valid == state_.best_valid;
  }
  progress_->record(json_text(j));
}

void Trainer::done_record(const std::string& reason, int signal) {
  if (!progress_->json()) return;
  const auto number = [](double v) { return std::isfinite(v) ? Json(v) : Json(nullptr); };
  progress_->record(json_text(Json{{"event", "done"},
                                   {"reason", reason},
                                   {"signal", signal},
                                   {"iteration", state_.iteration},
                                   {"epoch", batches_->epoch_fraction(state_.position)},
                                   {"seconds", elapsed()},
                                   {"valid_loss", number(state_.last_valid)},
                                   {"best_valid_loss", number(state_.best_valid)},
                                   {"best_iteration", state_.best_iteration},
                                   {"run_dir", run_dir_.string()}}));
}

TrainResult Trainer::interrupt() {
  save_checkpoint(run_dir_ / "last.ckpt");
  progress_->finish();
  const int sig = ranks_.size() > 1      ? agreed_signal_
                  : hooks_.watch_signals ? pending_stop_signal()
                                         : 0;
  const std::string what = sig == SIGINT    ? "interrupted (SIGINT)"
                           : sig == SIGTERM ? "terminated (SIGTERM)"
                                            : "interrupted";
  progress_->message(what + " at iteration " + std::to_string(state_.iteration) + "; saved " +
                     (run_dir_ / "last.ckpt").string() + "\nresume with: charnn train " +
                     option_name("resume") + " " + run_dir_.string());
  done_record("interrupted", sig);
  TrainResult r = result();
  r.stop_reason = "interrupted";
  r.signal = sig;
  return r;
}

TrainResult Trainer::finish(const std::string& reason) {
  // A finished run resumed as it was: its validations are in metrics.csv and last.ckpt already.
  // Otherwise one last save, with the time of the stop, so that the run reads finished.
  if (!state_.finished) {
    if (last_eval_iteration_ != state_.iteration) validate_and_save(true);
    const bool back = !state_.at_best && may_go_back();
    if (back) end_on_best();
    const bool whole = can_validate() && eval_is_slice();
    state_.finished = 1;  // in the checkpoint written next, the run's last
    if (whole)
      validate_at_end();
    else
      save_checkpoint(run_dir_ / "last.ckpt");
    if (whole || back) write_curves();
  }
  progress_->finish();
  // The plan turns --max-exposure into --max-iters (train_plan.hpp); say which one stopped it.
  const double units = static_cast<double>(split_.train.size());
  const double exposure =
      memorisation(static_cast<double>(state_.iteration * config_.batch * config_.seq_len) / units,
                   static_cast<double>(model_->params().size()), units);
  const bool exposed = config_.max_exposure > 0 && exposure >= 0.999 * config_.max_exposure;
  const std::string why =
      reason == "max_iters" && exposed
          ? "reached " + option_name("max_exposure") + " " + short_num(config_.max_exposure) +
                " (a longer run learns the text by heart)"
      : reason == "max_iters" ? "reached " + option_name("max_iters")
      : reason == "epochs"    ? "reached " + option_name("epochs")
      : reason == "time"      ? std::string("time budget used")
      : reason == "rollbacks"
          ? "going back to the best model stopped finding better ones; ended on it (" +
                option_name("rollback") + ")"
          : "validation stopped improving (" + option_name("patience") + ")";
  const std::string valid =
      can_validate() ? "validation " + validation_text(state_.last_valid) +
                           (eval_is_slice() ? " (" + end_label(state_.end_units) + ")" : "") +
                           "; " + describe_best()
                     : std::string("no validation split");
  progress_->message("done: " + why + " after " + thousands(state_.iteration) + " iterations (" +
                     fixed(batches_->epoch_fraction(state_.position), 2) + " epochs, " +
                     format_duration(elapsed()) + "); " + valid + "\n  run: " + run_dir_.string() +
                     (can_validate()
                          ? " (best.ckpt, last.ckpt, metrics.csv)"
                          : " (last.ckpt, metrics.csv; no best.ckpt without validation)"));
  done_record(reason, 0);
  TrainResult r = result();
  r.stop_reason = reason;
  return r;
}

TrainResult Trainer::result() const {
  TrainResult r;
  r.run_dir = run_dir_;
  r.iterations = state_.iteration;
  r.epochs = batches_->epoch_fraction(state_.position);
  r.train_loss = state_.train_ema;
  r.valid_loss = state_.last_valid;
  r.best_valid_loss = state_.best_valid;
  r.seconds = elapsed();
  const double session = session_seconds();
  const std::int64_t units =
      (state_.iteration - session_start_iteration_) * config_.batch * config_.seq_len;
  r.units_per_second = session > 0 ? static_cast<double>(units) / session : 0;
  return r;
}

double Trainer::scheduled_lr() const {
  return state_.lr_scale * config_.schedule.at(state_.iteration,
                                               batches_->epoch_fraction(state_.position),
                                               progress_fraction());
}

double Trainer::progress_fraction() const {
  return schedule_progress(config_, state_, batches_->epoch_fraction(state_.position), elapsed(),
                           end_seconds());
}

}  // namespace detail

TrainResult train(const TrainConfig& config, const PluginRegistry& plugins,
                  const TrainHooks& hooks) {
  return detail::train_with_faults(config, plugins, hooks, {});
}

namespace detail {

TrainResult train_with_faults(const TrainConfig& config, const PluginRegistry& plugins,
                              const TrainHooks& hooks, const TrainFaults& faults) {
  Trainer trainer(config, plugins, hooks, faults);
  return trainer.run();
}

}  // namespace detail

}  // namespace charnn
