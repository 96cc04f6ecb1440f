// One stream whose recurrent state lasts from turn to turn: `charnn sample --interactive` feeds
// each line typed, then continues it, as llama.cpp's -i does. Everything fed and everything
// generated is part of one running text, so a turn continues the whole conversation so far.
#pragma once

#include <charnn/model.hpp>
#include <charnn/random.hpp>
#include <charnn/sampler.hpp>
#include <charnn/unit_picker.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace charnn {

class Vocab;

class SampleSession {
 public:
  // Throws when the vocabulary does not fit the model or the policy is invalid. The model is
  // used as the caller prepared it (prepare_step_path).
  SampleSession(Model& model, const Vocab& vocab, const SamplingPolicy& policy,
                std::uint64_t random_seed);

  // Feeds text (empty on the first turn: the model starts as after a line break, see
  // empty_seed_unit), then generates up to `length` units, or fewer when the units of this turn
  // end with `stop`. Every generated unit is fed as well, so the next turn continues after it.
  Sample turn(const PreparedSeed& text, std::int64_t length, const std::string& stop,
              const std::function<void(std::string_view unit)>& on_unit = {});

 private:
  void feed(std::int32_t id);

  Model& model_;
  const Vocab& vocab_;
  UnitPicker picker_;
  Rng rng_;
  Model::State state_;
  std::vector<float> logits_;  // the prediction after everything fed so far
  bool started_ = false;
};

}  // namespace charnn
