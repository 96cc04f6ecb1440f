// The running average of the weights. See weight_average.hpp.
#include "charnn/weight_average.hpp"

#include <charnn/error.hpp>

#include <algorithm>
#include <cmath>
#include <string>

namespace charnn {

WeightAverage::WeightAverage(double decay, std::span<const float> weights)
    : decay_(decay), values_(weights.begin(), weights.end()) {
  if (!(decay > 0 && decay < 1))
    throw error("the weight average's decay must be between 0 and 1, not " + std::to_string(decay));
}

double WeightAverage::decay_at(std::int64_t step) const {
  const double s = static_cast<double>(std::max<std::int64_t>(step, 0));
  return std::min(decay_, (1 + s) / (10 + s));
}

void WeightAverage::update(std::span<const float> weights, std::int64_t step) {
  if (weights.size() != values_.size())
    throw error("weight average: " + std::to_string(weights.size()) +
                " weights for an average of " + std::to_string(values_.size()));
  if (step % kStride != 0) return;
  const float rate = static_cast<float>(1 - std::pow(decay_at(step), kStride));
  const std::int64_t n = static_cast<std::int64_t>(values_.size());
  float* a = values_.data();
  const float* w = weights.data();
#pragma omp parallel for simd schedule(static)
  for (std::int64_t i = 0; i < n; ++i) a[i] += rate * (w[i] - a[i]);
}

}  // namespace charnn
