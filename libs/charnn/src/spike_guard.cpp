// The run's guard against loss spikes (trainer_impl.hpp, kSpikeEvery): the learning-rate check's
// fixed batch, scored all run long. Why a fixed batch and not the training loss: lr_check.hpp.
#include "train_banner.hpp"
#include "trainer_impl.hpp"

#include <charnn/train_config.hpp>

#include <algorithm>
#include <array>
#include <cmath>

namespace charnn::detail {

void Trainer::start_spike_guard() {
  if (config_.rollback <= 0) return;
  fill_share(DataPosition{}, fixed_inputs_, fixed_targets_);
  // Where the run starts (or resumes) is the first healthy point. A resumed run's lowest score
  // comes from the checkpoint, so that it judges the next scores as the run before it would have.
  take_snapshot();
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

void Trainer::take_snapshot() {
  healthy_.iteration = state_.iteration;
  healthy_.optimizer_steps = optimizer_->steps();
  const auto params = model_->params();
  healthy_.params.assign(params.begin(), params.end());
  const auto moments = optimizer_->state();
  healthy_.optimizer.assign(moments.begin(), moments.end());
  if (average_) {
    const auto average = average_->values();
    healthy_.average.assign(average.begin(), average.end());
  }
}

void Trainer::guard_spikes() {
  if (config_.rollback <= 0 || healthy_.params.empty()) return;
  if (state_.iteration % kSpikeEvery != 0 && !checkpoint_due()) return;
  double score = fixed_batch_loss();
  if (faults_.spike_at == state_.iteration) score += 1;
  if (std::isfinite(score) && !(score > state_.spike_lowest + kSpikeMargin)) {
    state_.spike_lowest = std::min(state_.spike_lowest, score);
    take_snapshot();
    return;
  }
  // Back to the last healthy weights, moments and average; the iteration, clock and data go on,
  // as after --rollback's going back to best.ckpt.
  std::copy(healthy_.params.begin(), healthy_.params.end(), model_->params().begin());
  std::copy(healthy_.optimizer.begin(), healthy_.optimizer.end(), optimizer_->state().begin());
  optimizer_->set_steps(healthy_.optimizer_steps);
  if (average_)
    std::copy(healthy_.average.begin(), healthy_.average.end(), average_->values().begin());
  state_.lr_scale *= 0.5;
  ++state_.rollbacks;
  ++state_.spikes;
  progress_->message("  iter " + thousands(state_.iteration) +
                     ": the loss on the first training batch rose to " + fixed(score, 3) +
                     ", above " + fixed(state_.spike_lowest, 3) +
                     " at its lowest: back to the weights of iteration " +
                     thousands(healthy_.iteration) + ", learning rate x" +
                     short_num(state_.lr_scale) + " from now on (" + option_name("rollback") + ")");
}

}  // namespace charnn::detail
