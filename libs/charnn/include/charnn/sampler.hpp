// Sampling: turns a trained model's next-unit scores into text. The generation loop primes a
// Model with seed text and runs several samples as parallel streams; the pure parts (the
// generator, random.hpp, and picking one unit from a row of logits, unit_picker.hpp) need no
// model and are tested on their own.
#pragma once

#include <charnn/model.hpp>
#include <charnn/random.hpp>
#include <charnn/step_precision.hpp>
#include <charnn/unknown_units.hpp>
#include <charnn/unit_picker.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace charnn {

class Vocab;

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
  // The one-step path: run() first calls prepare_step_path (step_precision.hpp) with this
  // precision (int8 or bf16 where the CPU and a probe allow, by default). std::nullopt leaves the
  // model as the caller set it up (prepared by hand, or plain after Model::release_inference).
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
