// Picking the next unit from a row of the model's scores under a sampling policy (temperature,
// top-k, top-p, greedy). Pure: it needs no model, so it is tested on its own, and both the
// sampler and the int8 probe (step_precision.hpp) draw text with it.
#pragma once

#include <charnn/random.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace charnn {

// How the next unit is chosen from the model's scores.
struct SamplingPolicy {
  float temperature = 1.0f;           // divides the logits; < 1 sharper, > 1 flatter; 0 = greedy
  std::optional<std::int32_t> top_k;  // keep only the k most probable units (k >= 1)
  float top_p = 1.0f;                 // nucleus: keep the smallest most-probable set whose
                                      // probability reaches p, in (0, 1]; 1 keeps all
  bool greedy = false;                // always the most probable unit (argmax)

  bool is_greedy() const { return greedy || temperature == 0.0f; }
  // Throws charnn::error (with a hint) on a negative or non-finite temperature, top_p outside
  // (0, 1] and top_k < 1.
  void validate() const;
  std::string describe() const;  // "temperature 0.8, top-k 40" / "greedy", for logs
};

// One chosen unit.
struct Draw {
  std::int32_t id = 0;
  float p = 0.0f;  // the model's probability of this unit (plain softmax, temperature 1)
  float q = 0.0f;  // its probability under the policy (after temperature, top-k and top-p)
};

// Picks units from rows of logits under one policy. Holds its scratch buffers, so pick()
// allocates nothing; one picker per thread.
class UnitPicker {
 public:
  UnitPicker(const SamplingPolicy& policy, std::int32_t vocab_size);  // validates the policy

  // logits: (V). Greedy takes the first maximum and does not advance rng. Otherwise one
  // rng.uniform() is consumed per draw. Throws charnn::error on NaN or infinite logits.
  Draw pick(std::span<const float> logits, Rng& rng);

  // The exact distribution pick() draws from, normalised: out (V), zero outside the kept set.
  // For greedy, a one-hot row at the argmax.
  void distribution(std::span<const float> logits, std::span<float> out);

  const SamplingPolicy& policy() const { return policy_; }
  std::int32_t vocab_size() const { return vocab_size_; }

 private:
  // Fills p_ (model softmax) and w_ (unnormalised policy weights), and order_[0, kept_) with the
  // ids that may be drawn; returns the argmax. Returns the sum of w_ over the kept ids in *mass.
  std::int32_t prepare(std::span<const float> logits, double* mass);

  SamplingPolicy policy_;
  std::int32_t vocab_size_;
  bool truncate_;                    // top-k or top-p active: kept ids need sorting
  std::vector<float> p_;             // (V) softmax of the logits at temperature 1
  std::vector<float> w_;             // (V) exp((logit - max) / temperature), unnormalised
  std::vector<std::int32_t> order_;  // (V) candidate ids; the first kept_ are drawable
  std::int32_t kept_ = 0;
};

}  // namespace charnn
