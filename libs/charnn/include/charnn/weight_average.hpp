// A running average of the weights over the recent optimiser steps (Polyak averaging as an
// exponential moving average). Adam's steps leave the weights jittering around the valley the
// loss descends; their average sits nearer its floor, and scores better on held-out text
// wherever that jitter is large: early, at a high rate, and while a model overfits.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace charnn {

class WeightAverage {
 public:
  // decay in (0, 1): the weight the average keeps per step. Starts equal to `weights`.
  WeightAverage(double decay, std::span<const float> weights);

  // The decay used for step `step` (1-based): min(decay, (1 + step) / (10 + step)). A fixed
  // decay would hold the random start for ~1/(1-decay) steps; this one averages over about the
  // last 11% of the steps so far until that reaches 1/(1-decay).
  double decay_at(std::int64_t step) const;

  // Every kStride-th step: average += (1 - decay_at(step)^kStride) * (weights - average),
  // elementwise, the same result for any thread count; other steps do nothing. The average
  // spans hundreds of steps, so sampling every 4th changes it little, and a pass over every
  // weight at every step cost ~5% of a 2x512 LSTM's training step here.
  static constexpr std::int64_t kStride = 4;
  void update(std::span<const float> weights, std::int64_t step);

  std::span<float> values() { return values_; }
  std::span<const float> values() const { return values_; }

 private:
  double decay_;
  std::vector<float> values_;
};

}  // namespace charnn
