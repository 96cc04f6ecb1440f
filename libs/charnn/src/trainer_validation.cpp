// The trainer's validations: scoring the slice (trained weights and their average), keeping
// best.ckpt, going back to it (--rollback) or ending the run on it, --keep-every snapshots, and
// the whole split (or a sample of it) at the end. The loop that calls them is trainer.cpp.
#include "train_banner.hpp"
#include "trainer_impl.hpp"
#include "util.hpp"

#include <charnn/error.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace charnn::detail {

// `units` of the validation split as the trainer scores them: streams spread evenly over it
// (the whole split, contiguous, when units covers it).
EvalLayout Trainer::valid_layout(std::int64_t units) const {
  return spread_layout(static_cast<std::int64_t>(split_.valid.size()), units, config_.batch,
                       config_.seq_len);
}

// Nats per unit over a layout's streams: each rank scores its share, and the sums are added.
// `percent` (optional) is told how much of this rank's share is scored, after each batch.
// Measures the speed of validation for --time's end (end_seconds).
double Trainer::score_layout(const EvalLayout& at, const std::function<void(int)>& percent) {
  const StreamShare mine = stream_share(at.N, ranks_.rank(), ranks_.size());
  const std::int64_t share = std::max<std::int64_t>(at.segments * at.T * mine.count, 1);
  const auto t0 = std::chrono::steady_clock::now();
  std::array<double, 1> total{evaluate_streams(
      *model_, split_.valid, at, mine.first, mine.count,
      percent ? [&](std::int64_t done) { percent(static_cast<int>(100 * done / share)); }
              : std::function<void(std::int64_t)>{})};
  ranks_.sum(total);
  if (at.units() == 0) return kNaN;
  measured_spu_ =
      faults_.eval_seconds_per_unit > 0
          ? faults_.eval_seconds_per_unit
          : std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() /
                static_cast<double>(at.units());
  if (ranks_.size() == 1) eval_spu_ = measured_spu_;
  return total[0] / static_cast<double>(at.units());
}

// The periodic validation scores the trained weights and, with --ema, their average too, and
// chooses the better as the run's model; the whole split at the end scores only that model.
double Trainer::validate_now(std::int64_t end_units, std::int64_t* scored) {
  const bool end = end_units > 0;
  const EvalLayout at = valid_layout(end ? end_units : periodic_units());
  last_eval_iteration_ = state_.iteration;
  if (scored) *scored = at.units();
  // The end's validation can take minutes (up to kEndShare of --time): it shows how far it is.
  const auto shown = [&](int percent) {
    progress_->update("iter " + thousands(state_.iteration) + ": validating on " +
                      end_label(end_units) + ", " + std::to_string(percent) + "%");
  };
  const auto score = [&] { return score_layout(at, end ? shown : std::function<void(int)>{}); };
  if (!average_) return score();
  if (end) {
    if (state_.average_chosen) swap_in_average();
    const double v = score();
    if (state_.average_chosen) swap_in_average();
    return v;
  }
  trained_valid_ = score();
  swap_in_average();
  averaged_valid_ = score();
  swap_in_average();
  state_.average_chosen = averaged_valid_ < trained_valid_ ? 1 : 0;
  return state_.average_chosen ? averaged_valid_ : trained_valid_;
}

// A run saved before the slice was spread over the split (36abc32; no state.slice_spread)
// compared its models on the split's first units. Its best model is scored again on the slice
// the run now uses, so that the validations to come are compared with a figure of the same text
// and best.ckpt is not replaced, or gone back to, on the strength of the other text. Collective.
void Trainer::rescore_old_best() {
  std::int64_t rescore = resuming_ && state_.slice_spread == 0 && eval_is_slice() &&
                         std::isfinite(state_.best_valid) && !(state_.finished && !extending_);
  ranks_.broadcast(&rescore, sizeof rescore);  // the root's resume decides
  state_.slice_spread = 1;
  if (!rescore) return;
  const auto params = model_->params();
  std::vector<float> best(params.size());
  if (ranks_.root()) {
    const CheckpointData d = read_checkpoint(run_dir_ / "best.ckpt");
    if (d.params.size() != params.size())
      throw error((run_dir_ / "best.ckpt").string() + " does not hold this run's model",
                  "start a new run");
    best = d.params;  // the weights the run chose: trained or, with --ema, maybe their average
  }
  ranks_.broadcast(best.data(), best.size() * sizeof(float));
  std::swap_ranges(params.begin(), params.end(), best.begin());
  const double v = score_layout(valid_layout(periodic_units()));
  std::swap_ranges(params.begin(), params.end(), best.begin());
  progress_->message("  this run validated on the first " + thousands(config_.eval_units) +
                     " units of the split until now; its best model (iteration " +
                     thousands(state_.best_iteration) + ") scores " + fixed(v, 4) + " on " +
                     end_label(config_.eval_units) + ", where the run goes on (it scored " +
                     fixed(state_.best_valid, 4) + " on the first units)");
  state_.best_valid = v;
}

// Exchanges the model's weights with the average: called in pairs, around a validation.
void Trainer::swap_in_average() {
  const auto params = model_->params();
  const auto average = average_->values();
  std::swap_ranges(params.begin(), params.end(), average.begin());
}

// The periodic validation, on --eval-units units spread over the split (spread_layout): it
// alone decides best.ckpt and early stopping, so that models are always compared on the same
// text, and a text that stands for the whole split.
void Trainer::validate_and_save(bool last) {
  check_same_weights();
  if (!can_validate()) {
    last_eval_iteration_ = state_.iteration;
    save_checkpoint(run_dir_ / "last.ckpt");
    if (snapshot_due()) keep_snapshot(kNaN);
    write_curves();
    return;
  }
  std::int64_t scored = 0;
  const double v = validate_now(0, &scored);
  state_.last_valid = v;
  const bool better = std::isfinite(v) && v < state_.best_valid;
  if (better) {
    state_.best_valid = v;
    state_.best_iteration = state_.iteration;
    state_.evals_since_best = 0;
    state_.at_best = 1;
  } else {
    ++state_.evals_since_best;
  }
  // Said before a rollback or a second scoring changes which weights are chosen.
  const std::string said =
      "iter " + thousands(state_.iteration) + " (" + format_duration(elapsed()) + "): validation " +
      validation_text(v) + (better ? " (best)" : "") +
      (!average_ ? std::string()
       : state_.average_chosen
           ? " (weight average; trained weights " + fixed(trained_valid_, 4) + ")"
           : " (trained weights; weight average " + fixed(averaged_valid_, 4) + ")");
  // Before last.ckpt is written: a run resumed from it continues after the rollback.
  // Not at the end of a run: there finish() goes back only if these weights are not the best.
  const bool roll =
      !last && !better && may_go_back() && state_.evals_since_best % config_.rollback == 0;
  const bool ending = roll && rollbacks_exhausted(config_, state_, batches_->segments_per_epoch());
  if (ending) state_.ended_on_best = 1;  // stop_reached ends the run
  metrics_row(last_lr_, window_.mean_loss(), window_.mean_norm(), v, scored, trained_valid_);
  if (roll) roll_back();
  const double back = ending ? score_gone_back() : kNaN;
  if (better) save_checkpoint(run_dir_ / "best.ckpt");
  save_checkpoint(run_dir_ / "last.ckpt");
  if (snapshot_due()) keep_snapshot(v);
  write_curves();
  progress_->message(said);
  if (ending)
    progress_->message("  " + std::to_string(state_.evals_since_best) +
                       " validations without improvement, " + std::to_string(kFruitlessRollbacks) +
                       " rollbacks that found no better model: the run ends on the best model "
                       "(iteration " +
                       std::to_string(state_.best_iteration) + "), validation " +
                       validation_text(back) + " (" + option_name("rollback") + ")");
  else if (roll)
    progress_->message("  " + std::to_string(config_.rollback) +
                       " validation(s) without "
                       "improvement: back to the best model (iteration " +
                       std::to_string(state_.best_iteration) + "), learning rate x" +
                       short_num(state_.lr_scale) + " from now on (" + option_name("rollback") +
                       ")");
}

// The weights and optimiser moments of best.ckpt, read back from the file so that a resumed run
// does the same; the iteration, clock and data position go on (the next batches are new ones).
// The root reads the file and sends what it read to the other ranks.
void Trainer::roll_back() {
  if (ranks_.root()) read_best();
  share_weights();
  state_.lr_scale *= 0.5;
  ++state_.rollbacks;
  state_.at_best = 1;
  // The spike guard judges from where the run now is: the best model may score its batch well
  // above the lowest a later model reached, and would otherwise be sent back again at once.
  if (config_.rollback > 0) state_.spike_lowest = fixed_batch_loss();
}

void Trainer::read_best() {
  const CheckpointData best = read_checkpoint(run_dir_ / "best.ckpt");
  const auto params = model_->params();
  // With --ema (fixed for a run) best.ckpt holds the trained weights and the average as well.
  const std::size_t average_size = average_ ? params.size() : 0;
  if (best.params.size() != params.size() || best.optimizer.size() != optimizer_->state().size() ||
      best.live.size() != average_size || best.average.size() != average_size)
    throw error((run_dir_ / "best.ckpt").string() + " does not hold this run's model",
                "resume with " + option_name("rollback") + " 0, or start a new run");
  const std::vector<float>& trained = average_ ? best.live : best.params;
  std::copy(trained.begin(), trained.end(), params.begin());
  std::copy(best.optimizer.begin(), best.optimizer.end(), optimizer_->state().begin());
  optimizer_->set_steps(best.get_int("state.optimizer_steps"));
  if (average_) {
    std::copy(best.average.begin(), best.average.end(), average_->values().begin());
    state_.average_chosen = TrainState::load(best).average_chosen;
  }
}

// The model a run ends on after going back, scored on the slice as the rows before it (a second
// row at the same iteration), so that the run's last periodic figure is the model it ends with.
double Trainer::score_gone_back() {
  std::int64_t scored = 0;
  state_.last_valid = validate_now(0, &scored);
  metrics_row(last_lr_, window_.mean_loss(), window_.mean_norm(), state_.last_valid, scored,
              trained_valid_);
  return state_.last_valid;
}

// A run with --rollback that stops on weights that validated worse than its best ends on the
// best, as Keras's restore_best_weights does: best.ckpt is the model `sample` takes by default,
// and the whole split at the end then scores that model, not one the run moved past. The rate is
// halved as at any rollback, so that --more goes on from there as a rollback would. finish()
// saves the run's last checkpoint after it.
void Trainer::end_on_best() {
  const double last = state_.last_valid;
  roll_back();
  score_gone_back();
  progress_->message("  the last model validated " + validation_text(last) +
                     ": the run ends on the best model (iteration " +
                     thousands(state_.best_iteration) + "), validation " +
                     validation_text(state_.last_valid) + " (" + option_name("rollback") + ")");
}

bool Trainer::snapshot_due() const {
  return config_.keep_every > 0 && state_.iteration % config_.keep_every == 0;
}

// The checkpoint just written, kept under char-rnn's kind of name. A hard link costs nothing:
// last.ckpt is replaced by a rename, so the link keeps this iteration's file.
void Trainer::keep_snapshot(double valid) {
  if (!ranks_.root()) return;
  const std::string name = "iter-" + std::to_string(state_.iteration) +
                           (std::isfinite(valid) ? "-val-" + fixed(valid, 3) : std::string()) +
                           ".ckpt";
  const auto target = run_dir_ / name;
  std::error_code ec;
  std::filesystem::remove(target, ec);
  std::filesystem::create_hard_link(run_dir_ / "last.ckpt", target, ec);
  if (ec)  // a file system without hard links
    std::filesystem::copy_file(run_dir_ / "last.ckpt", target,
                               std::filesystem::copy_options::overwrite_existing);
  progress_->message("  kept " + target.string());
}

// At the end, the whole split as well (or a larger sample spread over it: end_units), for the
// figure to report; it is not compared with the best, which the slice alone decides. Where the
// sample the time allows is the slice itself, the last periodic figure is that model's score.
void Trainer::validate_at_end() {
  const auto n = static_cast<std::int64_t>(split_.valid.size());
  const std::int64_t units = end_units();
  const double whole_seconds = eval_spu_ * static_cast<double>(n);
  std::int64_t scored = 0;
  const bool slice = units <= periodic_units();
  if (slice) scored = valid_layout(units).units();
  const double v = slice ? state_.last_valid : validate_now(units, &scored);
  state_.last_valid = v;
  state_.end_units = units < n ? scored : 0;
  metrics_row(last_lr_, kNaN, kNaN, v, scored, kNaN, true);
  save_checkpoint(run_dir_ / "last.ckpt");
  const std::string which = state_.end_units > 0 ? " (the whole split, " + thousands(n) +
                                                       " units, would have taken " +
                                                       format_duration(whole_seconds) + ")"
                                                 : " (" + thousands(scored) + " units)";
  progress_->message("iter " + thousands(state_.iteration) + " (" + format_duration(elapsed()) +
                     "): validation on " + end_label(state_.end_units) + which + " " +
                     validation_text(v));
}

std::int64_t Trainer::end_units() const {
  const auto n = static_cast<std::int64_t>(split_.valid.size());
  if (config_.time_limit <= 0 || !(eval_spu_ > 0)) return n;
  const double fit = kEndShare * config_.time_limit / eval_spu_;
  const std::int64_t least = std::min(n, std::max<std::int64_t>(config_.eval_units, 0));
  return fit >= static_cast<double>(n) ? n : std::max(least, static_cast<std::int64_t>(fit));
}

double Trainer::end_seconds() const {
  if (config_.time_limit <= 0 || !can_validate()) return 0;
  const double last = (average_ ? 2 : 1) * static_cast<double>(periodic_units());
  const double end = end_units() > periodic_units() ? static_cast<double>(end_units()) : 0;
  return std::min(eval_spu_ * (last + end), 0.5 * config_.time_limit);
}

std::string Trainer::end_label(std::int64_t units) const {
  if (units <= 0 || units >= static_cast<std::int64_t>(split_.valid.size()))
    return "the whole split";
  return thousands(units) + " units spread over the split";
}

}  // namespace charnn::detail
