// Beam search: the continuation of a seed that the model finds most likely, searched K
// hypotheses wide, instead of one unit drawn at a time. Greedy decoding (K = 1) often falls into
// a loop; a wider beam looks ahead past a locally likely unit. The greedy line is always one of
// the candidates (it rides along as one more stream), so a wider beam never returns a less likely
// text than greedy decoding.
#pragma once

#include <charnn/model.hpp>
#include <charnn/sampler.hpp>
#include <charnn/step_precision.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace charnn {

class Vocab;

struct BeamOptions {
  std::int64_t width = 4;    // K hypotheses kept at each step
  std::int64_t length = 500;  // units after the seed, unless the stop string ends a hypothesis
  // A hypothesis ended by the stop string competes with the others by log p / units^penalty:
  // 0 compares total likelihoods (favours short texts), 1 the likelihood per unit.
  double length_penalty = 1.0;
  std::string stop;  // cleaned text; a hypothesis ends once its text ends with it
  // No sequence of this many units may occur twice in a continuation (0 = no such rule). The most
  // likely text of a character model loops ("the countess, and the countess, and ..."); this
  // forbids the loop, in the beam's rows and in the greedy line alike. 12: with beam 8 on War and
  // Peace and the King James Bible it left no 20-unit window repeated (against 31% and 47%
  // without), and longer rules let loops through (bench/RESULTS.md, "Beam search").
  std::int64_t no_repeat = 12;
  // As SampleOptions::precision: the one-step path prepared first (nullopt: as the caller left it).
  std::optional<StepPrecision> precision = StepPrecision::automatic;
};

struct BeamResult {
  std::string text;                // the continuation (the seed is not repeated)
  std::vector<std::int32_t> ids;   // its units
  double nats = 0;                 // -log p of the continuation under the model, in nats
  bool stopped = false;            // ended by the stop string
  bool from_greedy = false;        // the greedy line scored best
};

// Throws charnn::error on a width below 1, a negative length or a non-finite penalty.
BeamResult beam_search(Model& model, const Vocab& vocab, const PreparedSeed& seed,
                       const BeamOptions& options);

}  // namespace charnn
