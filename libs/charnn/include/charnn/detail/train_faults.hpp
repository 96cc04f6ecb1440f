// Test-only: train() with simulated faults, so tests can interrupt a run at an exact iteration
// or make one loss NaN. Not part of the public API; applications use charnn::train().
#pragma once

#include <charnn/trainer.hpp>

#include <cstdint>

namespace charnn::detail {

struct TrainFaults {
  // Acts as if SIGINT arrived after this iteration (checkpoint, return). 0 = never.
  std::int64_t interrupt_after = 0;
  // Pretends the loss of this iteration (1-based) is NaN. 0 = never.
  std::int64_t inject_nan_at = 0;
  // Pretends the learning-rate check's loss jumps by 1 after its first score at rates above
  // this. 0 = never.
  double lr_check_rise_above = 0;
  // Pretends the spike guard's score of this iteration is 1 nat higher. 0 = never.
  std::int64_t spike_at = 0;
  // Multiplies the gradients of this iteration (1-based) by 10,000, before clipping. 0 = never.
  std::int64_t burst_at = 0;
  // Pretends every validation scores this many seconds per unit (end_seconds, end_units). 0 =
  // the measured speed.
  double eval_seconds_per_unit = 0;
  // Pretends the learning-rate check took this many seconds more before the first step (counted
  // against --time). 0 = as measured.
  double check_seconds = 0;
};

TrainResult train_with_faults(const TrainConfig& config, const PluginRegistry& plugins,
                              const TrainHooks& hooks, const TrainFaults& faults);

}  // namespace charnn::detail
