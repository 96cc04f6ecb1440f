// The sampling policy's checks and the unit picker: softmax, temperature, top-k / top-p
// truncation and one draw, all in a fixed order so a seed gives the same unit on every platform.
#include "charnn/unit_picker.hpp"

#include "charnn/error.hpp"
#include "util.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace charnn {

using detail::format_float;

void SamplingPolicy::validate() const {
  if (!std::isfinite(temperature) || temperature < 0.0f)
    throw error("temperature " + format_float(temperature) + " is not allowed",
                "use a temperature >= 0: 1 samples from the model as trained, lower values are "
                "more conservative, 0 means greedy (always the most probable unit)");
  if (top_k && *top_k < 1)
    throw error("top-k " + std::to_string(*top_k) + " is not allowed",
                "use a top-k of at least 1 (1 is greedy), or leave it out to keep every unit");
  if (!(top_p > 0.0f && top_p <= 1.0f))
    throw error("top-p " + format_float(top_p) + " is outside (0, 1]",
                "use a top-p greater than 0 and at most 1, e.g. 0.9 (1 keeps every unit)");
}

std::string SamplingPolicy::describe() const {
  if (is_greedy()) return "greedy";
  std::string s = "temperature " + format_float(temperature);
  if (top_k) s += ", top-k " + std::to_string(*top_k);
  if (top_p < 1.0f) s += ", top-p " + format_float(top_p);
  return s;
}

// ---------------------------------------------------------------------------------------------
// UnitPicker

UnitPicker::UnitPicker(const SamplingPolicy& policy, std::int32_t vocab_size)
    : policy_(policy), vocab_size_(vocab_size) {
  policy_.validate();
  if (vocab_size < 1) throw error("cannot sample from an empty vocabulary");
  truncate_ = !policy_.is_greedy() &&
              ((policy_.top_k && *policy_.top_k < vocab_size) || policy_.top_p < 1.0f);
  p_.resize(static_cast<std::size_t>(vocab_size));
  w_.resize(static_cast<std::size_t>(vocab_size));
  order_.resize(static_cast<std::size_t>(vocab_size));
}

std::int32_t UnitPicker::prepare(std::span<const float> logits, double* mass) {
  if (static_cast<std::int64_t>(logits.size()) != vocab_size_)
    throw error("internal: " + std::to_string(logits.size()) + " logits for a vocabulary of " +
                std::to_string(vocab_size_));
  const std::int32_t V = vocab_size_;
  std::int32_t arg = 0;
  float m = logits[0];
  for (std::int32_t i = 0; i < V; ++i) {
    const float x = logits[static_cast<std::size_t>(i)];
    if (!std::isfinite(x))
      throw error("the model produced a non-finite score (" + format_float(x) + ") for unit " +
                      std::to_string(i),
                  "the checkpoint may be damaged or the training diverged; try the run's other "
                  "checkpoint (--best / --last)");
    if (x > m) m = x, arg = i;
  }
  // Model probabilities (temperature 1), stable: exp(l - max) <= 1, the sum is >= 1.
  double sum = 0.0;
  for (std::int32_t i = 0; i < V; ++i) {
    const auto k = static_cast<std::size_t>(i);
    w_[k] = std::exp(logits[k] - m);  // the policy weights too, when the temperature is 1
    sum += w_[k];
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (std::int32_t i = 0; i < V; ++i)
    p_[static_cast<std::size_t>(i)] = w_[static_cast<std::size_t>(i)] * inv;

  if (policy_.is_greedy()) {
    order_[0] = arg;
    kept_ = 1;
    w_[static_cast<std::size_t>(arg)] = 1.0f;
    *mass = 1.0;
    return arg;
  }
  // Policy weights. Dividing (not multiplying by 1/T) keeps the maximum at exactly exp(0) = 1
  // even for a temperature so small that 1/T would overflow: then every other weight is 0.
  const float T = policy_.temperature;
  if (T != 1.0f)
    for (std::int32_t i = 0; i < V; ++i) {
      const auto k = static_cast<std::size_t>(i);
      w_[k] = std::exp((logits[k] - m) / T);
    }
  if (!truncate_) {
    kept_ = V;
    double total = 0.0;
    for (float w : w_) total += w;
    *mass = total;
    return arg;
  }
  // Most probable first; equal scores in id order, so the kept set and its order are unique
  // (the same on every standard library).
  std::iota(order_.begin(), order_.end(), 0);
  const std::int32_t k = policy_.top_k ? std::min(*policy_.top_k, V) : V;
  std::partial_sort(order_.begin(), order_.begin() + k, order_.end(),
                    [&](std::int32_t a, std::int32_t b) {
                      const float la = logits[static_cast<std::size_t>(a)];
                      const float lb = logits[static_cast<std::size_t>(b)];
                      return la > lb || (la == lb && a < b);
                    });
  double total = 0.0;
  for (std::int32_t j = 0; j < k; ++j) total += w_[static_cast<std::size_t>(order_[j])];
  kept_ = k;
  if (policy_.top_p < 1.0f) {
    // Nucleus: the shortest prefix whose share of the (top-k) mass reaches p.
    const double threshold = static_cast<double>(policy_.top_p) * total;
    double cum = 0.0;
    for (std::int32_t j = 0; j < k; ++j) {
      cum += w_[static_cast<std::size_t>(order_[j])];
      if (cum >= threshold) {
        kept_ = j + 1;
        total = cum;
        break;
      }
    }
  }
  *mass = total;
  return arg;
}

Draw UnitPicker::pick(std::span<const float> logits, Rng& rng) {
  double mass = 0.0;
  const std::int32_t arg = prepare(logits, &mass);
  if (policy_.is_greedy()) return {arg, p_[static_cast<std::size_t>(arg)], 1.0f};

  const double u = rng.uniform() * mass;
  double cum = 0.0;
  std::int32_t chosen = -1, last_positive = arg;
  for (std::int32_t j = 0; j < kept_; ++j) {
    const std::int32_t id = truncate_ ? order_[static_cast<std::size_t>(j)] : j;
    const float w = w_[static_cast<std::size_t>(id)];
    if (w <= 0.0f) continue;
    last_positive = id;
    cum += w;
    if (cum > u) {
      chosen = id;
      break;
    }
  }
  // Rounding can leave u just above the final sum: the last unit with weight takes it.
  if (chosen < 0) chosen = last_positive;
  const auto c = static_cast<std::size_t>(chosen);
  return {chosen, p_[c], static_cast<float>(w_[c] / mass)};
}

void UnitPicker::distribution(std::span<const float> logits, std::span<float> out) {
  double mass = 0.0;
  prepare(logits, &mass);
  std::fill(out.begin(), out.end(), 0.0f);
  for (std::int32_t j = 0; j < kept_; ++j) {
    const std::int32_t id =
        truncate_ || policy_.is_greedy() ? order_[static_cast<std::size_t>(j)] : j;
    out[static_cast<std::size_t>(id)] = static_cast<float>(w_[static_cast<std::size_t>(id)] / mass);
  }
}

}  // namespace charnn
