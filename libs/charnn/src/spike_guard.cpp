// The run's guards: against loss spikes (trainer_impl.hpp, kSpikeEvery), the learning-rate
// check's fixed batch scored all run long (why a fixed batch and not the training loss:
// lr_check.hpp); and against gradient bursts (gradient_bursts.hpp), steps skipped.
#include "train_banner.hpp"
#include "trainer_impl.hpp"

#include <charnn/gradient_bursts.hpp>
#include <charnn/train_config.hpp>

#include <algorithm>
#include <array>
#include <cmath>

namespace charnn::detail {

void Trainer::start_spike_guard() {
  if (config_.rollback <= 0) return;
  fill_share(DataPosition{}, fixed_inputs_, fixed_targets_);
}

// The mean loss over the whole fixed batch: each rank scores its streams, and the sum is the
// same on every rank, so that all of them go back together.
double Trainer::fixed_batch_loss() {
  Model::State zero = model_->zero_state(share_.count);
  std::array<double, 1> nats{
      model_->evaluate(fixed_inputs_, fixed_targets_, config_.seq_len, zero)};
  ranks_.sum(nats);
  return nats[0] / static_cast<double>(config_.batch * config_.seq_len);
}

// A spike goes back to best.ckpt, as a validation's rollback does, and not to weights kept in
// memory at the last healthy score: on War and Peace (2 hours, 2026-12-04) the loss crept up for
// 1,600 iterations after a first burst of gradients before it spiked, and the run sent back to
// the weights and moments of 50 iterations before the spike learnt at a third of the pace of an
// earlier run sent back to its best model (0.026 nats in 62 minutes against 0.058 in 40).
// Adam's second moments remember a burst for ~1,000 steps, so a point that scores well can
// still be damaged. best.ckpt also makes a resumed run go back exactly as the run before it.
// Not at a validation's iteration: the validation judges the model there, and a spike's
// rollback just before it would count as a validation without improvement and could make the
// validation roll back a second time in the same iteration.
void Trainer::guard_spikes() {
  if (config_.rollback <= 0 || state_.iteration % kSpikeEvery != 0 ||
      state_.iteration % config_.eval_every == 0)
    return;
  double score = fixed_batch_loss();
  if (faults_.spike_at == state_.iteration) score += 1;
  if (std::isfinite(score) && !(score > state_.spike_lowest + kSpikeMargin)) {
    state_.spike_lowest = std::min(state_.spike_lowest, score);
    return;
  }
  const std::string rose = "  iter " + thousands(state_.iteration) +
                           ": the loss on the first training batch rose to " + fixed(score, 3) +
                           ", above " + fixed(state_.spike_lowest, 3) + " at its lowest";
  if (state_.best_iteration <= 0) {
    progress_->message(rose + "; no validation has kept a best model to go back to yet");
    return;
  }
  roll_back();
  ++state_.spikes;
  progress_->message(rose + ": back to the best model (iteration " +
                     thousands(state_.best_iteration) + "), learning rate x" +
                     short_num(state_.lr_scale) + " from now on (" + option_name("rollback") + ")");
}

// Every rank holds the summed gradient, so all of them skip the same steps.
bool Trainer::skip_burst(double norm) {
  if (config_.skip_bursts <= 0) return false;
  const double level = std::exp(state_.grad_log_level);
  if (!GradientBursts::step(state_.grad_log_level, norm, config_.skip_bursts, state_.iteration))
    return false;
  ++state_.bursts;
  ++window_.bursts;
  window_.burst_ratio = std::max(window_.burst_ratio, norm / level);
  return true;
}

// Once per metrics row, not per step: one passage makes several in a row.
void Trainer::report_bursts() {
  if (window_.bursts == 0) return;
  progress_->message(
      "  iter " + thousands(state_.iteration) + ": skipped " + thousands(window_.bursts) + " step" +
      (window_.bursts > 1 ? "s" : "") + " since the last report, gradient norms up to " +
      fixed(window_.burst_ratio, 0) + "x their running level of " +
      fixed(std::exp(state_.grad_log_level), 2) + " (" + option_name("skip_bursts") + ")");
}

}  // namespace charnn::detail
