// The learning-rate check of --lr auto: the planned rate must survive the start of the run.
// The rule that plans it (planned_lr) was tuned on the LSTM; another cell (the GRU at 2x512, a
// user's plugin) can blow up at that rate within the first 150 iterations and never recover:
// War and Peace validated 2.94 after 800 iterations at 2e-2, 1.27 at 1e-2 (docs/training.md).
// So before a long run the trainer trains its model from the initial weights for the warm-up
// and a little more, and halves the rate while the training loss rises. A pure detector here;
// the trainer runs the steps.
#pragma once

#include <cstdint>
#include <limits>
#include <string>

namespace charnn {

// The model has got worse: its loss on one fixed batch, scored every kLrCheckEvery steps, lies
// more than `margin` nats above the lowest so far, or a loss is not finite. A fixed batch, not the
// training loss, so that harder text in the next batches is not taken for a rise: on a corpus of
// Chinese quotations and poems the training loss of steps 91-100 rose 0.3-0.4 nats at every rate
// from 2e-3 down to 2.5e-4. A rate that is too high shows it within tens of steps (the GRU at 2e-2
// on War and Peace: 3.15, then 3.78 ten steps later); a healthy start falls or holds a plateau.
class LossRiseDetector {
 public:
  explicit LossRiseDetector(double margin = 0.25) : margin_(margin) {}

  // The fixed batch's loss after `step` steps; returns risen().
  bool add(std::int64_t step, double loss);
  bool risen() const { return risen_; }
  // After a rise: "the loss at step 90 was 3.78, above 3.15 at its lowest".
  std::string why() const;

 private:
  double margin_;
  double lowest_ = std::numeric_limits<double>::infinity();
  double risen_loss_ = 0;
  std::int64_t risen_step_ = 0;
  bool risen_ = false;
};

// Steps between two scores of the fixed batch: a forward pass costs about a third of a step.
inline constexpr std::int64_t kLrCheckEvery = 10;

// Steps the check trains at one rate: the warm-up (the rate reaches its peak at its end) and then
// half as many again, at least 50, at the peak.
std::int64_t lr_check_steps(std::int64_t warmup);

// Halvings the check tries before it keeps the last rate (2e-2 down to 2.5e-3).
inline constexpr int kLrCheckHalvings = 3;

// The check runs only when the planned run is at least this many times as long as one check, so
// that it costs under a tenth of the budget even when it halves once.
inline constexpr double kLrCheckShare = 20;

}  // namespace charnn
