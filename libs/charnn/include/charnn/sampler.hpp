// Sampling: turns a trained model's next-unit scores into text. The pure part (policy, PRNG,
// picking one unit from a row of logits) needs no model, so it is tested on its own; the
// generation loop primes a Model with seed text and runs several samples as parallel streams.
#pragma once

#include <charnn/model.hpp>
#include <charnn/unknown_units.hpp>

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace charnn {

class Vocab;

// xoshiro256** seeded through splitmix64. Written here, not taken from <random>, because the
// standard distributions differ between standard libraries: the same --random-seed must give
// the same text on every platform.
class Rng {
 public:
  // Streams with the same seed and different indices are independent generators, so each
  // sample's text depends only on (seed, stream), never on threads or on the other streams.
  explicit Rng(std::uint64_t seed, std::uint64_t stream = 0);
  // A raw xoshiro256** state (not all zero), to check the generator against its reference.
  explicit Rng(const std::array<std::uint64_t, 4>& state);
  std::uint64_t next();
  // Uniform in [0, 1): the top 53 bits of next() scaled by 2^-53 (exact in a double).
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  std::uint64_t s_[4];
};

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

// The seed as the model sees it.
struct PreparedSeed {
  std::string text;                  // cleaned like the corpus (NFC, line ends): printed first
  std::vector<std::int32_t> ids;     // what primes the model (skipped units left out)
  std::vector<std::string> unknown;  // distinct units not in the vocabulary, escaped, in order
  std::int64_t unknown_count = 0;    // how many seed units were unknown (skipped or mapped)
};

// Cleans raw seed text with the vocabulary's TextOptions and encodes it. Unknown units: error
// lists them (escaped); skip drops them; map turns them into the vocabulary's unknown symbol,
// or throws when it has none. source names the seed in messages ("--seed", a file name).
PreparedSeed prepare_seed(std::string_view raw, const Vocab& vocab, UnknownUnits unknown,
                          std::string_view source = "--seed");

// The unit fed to the zero state when the seed is empty: "\n" if the vocabulary has it (so a
// sample starts as if at the beginning of a line), else the most frequent unit (id 0). It is
// not part of the printed text.
std::int32_t empty_seed_unit(const Vocab& vocab);

struct SampleOptions {
  std::int64_t length = 500;  // units to generate per sample (after the seed)
  std::int64_t count = 1;     // samples, run together as parallel streams
  std::string stop;           // cleaned text; a sample ends once it ends with this (kept in it)
  SamplingPolicy policy;
  std::uint64_t random_seed = 0;
  bool record_probabilities = false;  // fill Sample::p and Sample::q
  // The one-step path: run() first calls Model::prepare_inference with this precision (bf16
  // where the CPU has it, by default). std::nullopt leaves the model as the caller set it up
  // (prepared by hand, or plain after Model::release_inference).
  std::optional<StepPrecision> precision = StepPrecision::automatic;
  // Let run() choose the thread count of each Model::step between 1 and the current setting
  // (get_threads()) by timing short stretches of each, re-checked every ~1000 steps, and restore
  // the setting afterwards. One stream's step is a few hundred microseconds: on an idle machine
  // two cores stream the weights faster, but when the other core is busy every parallel region
  // waits for it (2x slower and worse). The text does not depend on the thread count.
  bool tune_threads = false;
};

struct Sample {
  std::string text;               // the continuation only (the seed is not repeated)
  std::vector<std::int32_t> ids;  // (units) generated ids
  std::vector<float> p;           // (units) model probability of each unit, when recorded
  std::vector<float> q;           // (units) its probability under the policy, when recorded
  bool stopped = false;           // ended by the stop string before reaching length
};

struct SampleCallbacks {
  // Each generated unit as soon as it is chosen (for streaming one sample to a terminal).
  std::function<void(std::int64_t stream, std::string_view unit)> on_unit;
  // When a sample is complete (stop string or length), in the order they complete; ties in
  // stream order.
  std::function<void(std::int64_t stream, const Sample& sample)> on_finished;
};

// The generation loop. Priming runs the seed through the model once (one stream) and copies the
// state to every stream; then each step feeds every stream's last unit to Model::step (N =
// count) and picks each stream's next unit with its own Rng(random_seed, stream). No allocation
// per step beyond the growing output text. For a given precision the text depends only on the
// seeds, not on the thread count; bf16 and f32 may pick different units where two are nearly
// equally likely.
class Sampler {
 public:
  Sampler(Model& model, const Vocab& vocab);  // throws when the vocabulary does not fit the model
  std::vector<Sample> run(const PreparedSeed& seed, const SampleOptions& options,
                          const SampleCallbacks& callbacks = {});

 private:
  Model& model_;
  const Vocab& vocab_;
};

// Undoes the escapes a user types on a command line for --stop: \n, \t, \r, \\ .
std::string unescape_cli(std::string_view text);

// One sample as a JSON object: {"text": ..., "stopped": ..., "units": [{"u": ..., "p": ...,
// "q": ...}, ...]} (units only when probabilities were recorded).
std::string sample_json(const Sample& sample, const Vocab& vocab);

}  // namespace charnn
