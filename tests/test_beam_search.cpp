// Beam search (charnn::beam_search) on a small model with random weights: greedy at width 1,
// never less likely when wider, exact when as wide as the vocabulary, the stop string, and
// --no-repeat. `charnn sample --beam` is tested in test_cli_sample.cpp.
#include <charnn/beam_search.hpp>
#include <charnn/error.hpp>
#include <charnn/model.hpp>
#include <charnn/sampler.hpp>
#include <charnn/vocab.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "sampling_support.hpp"

using charnn::test::kText;
using charnn::test::random_model;
using charnn::test::vocab_of;

namespace {

// -log p of `continuation` after `prime` under the model, one unit at a time on one stream: an
// account independent of the beam's batched rows.
double continuation_nats(charnn::Model& model, const std::vector<std::int32_t>& prime,
                         const std::vector<std::int32_t>& continuation) {
  const std::int64_t V = model.vocab_size();
  std::vector<float> logits(static_cast<std::size_t>(V));
  charnn::Model::State state = model.zero_state(1);
  for (const std::int32_t id : prime) model.step(std::span<const std::int32_t>(&id, 1), state, logits.data());
  double nats = 0;
  for (const std::int32_t id : continuation) {
    const double max = *std::max_element(logits.begin(), logits.end());
    double sum = 0;
    for (const float l : logits) sum += std::exp(static_cast<double>(l) - max);
    nats -= static_cast<double>(logits[static_cast<std::size_t>(id)]) - max - std::log(sum);
    model.step(std::span<const std::int32_t>(&id, 1), state, logits.data());
  }
  return nats;
}

}  // namespace

TEST_CASE("beam 1 is greedy decoding; wider beams are never less likely", "[sampler][beam]") {
  const auto vocab = vocab_of(kText);
  auto model = random_model(vocab);
  const auto seed = charnn::prepare_seed("Prince", vocab, charnn::UnknownUnits::error);
  charnn::SampleOptions greedy;
  greedy.length = 60;
  greedy.policy.greedy = true;
  greedy.precision = std::nullopt;  // the plain f32 step on both sides
  charnn::Sampler sampler(*model, vocab);
  const auto g = sampler.run(seed, greedy)[0];

  charnn::BeamOptions beam;
  beam.length = 60;
  beam.precision = std::nullopt;
  beam.no_repeat = 0;  // greedy decoding knows no such rule
  beam.width = 1;
  const auto one = charnn::beam_search(*model, vocab, seed, beam);
  CHECK(one.text == g.text);
  CHECK(one.ids.size() == 60);
  const double greedy_nats = continuation_nats(*model, seed.ids, g.ids);
  CHECK(one.nats == Approx(greedy_nats).epsilon(1e-5));
  for (const std::int64_t width : {2, 4, 8}) {
    CAPTURE(width);
    beam.width = width;
    const auto r = charnn::beam_search(*model, vocab, seed, beam);
    REQUIRE(r.ids.size() == 60);
    CHECK(vocab.decode(r.ids) == r.text);
    const double nats = continuation_nats(*model, seed.ids, r.ids);
    CHECK(r.nats == Approx(nats).epsilon(1e-5));
    CHECK(nats <= greedy_nats + 1e-6);
  }
}

TEST_CASE("a beam as wide as the vocabulary finds the most likely two units exactly",
          "[sampler][beam]") {
  const auto vocab = vocab_of(kText);
  auto model = random_model(vocab);
  const auto seed = charnn::prepare_seed("Genoa", vocab, charnn::UnknownUnits::error);
  const auto V = static_cast<std::int32_t>(vocab.size());
  double best = 1e300;
  for (std::int32_t a = 0; a < V; ++a)
    for (std::int32_t b = 0; b < V; ++b)
      best = std::min(best, continuation_nats(*model, seed.ids, {a, b}));
  charnn::BeamOptions beam;
  beam.length = 2;
  beam.width = V;
  beam.precision = std::nullopt;
  const auto r = charnn::beam_search(*model, vocab, seed, beam);
  CHECK(r.nats == Approx(best).epsilon(1e-6));
}

TEST_CASE("beam search ends a hypothesis at the stop string and checks its options",
          "[sampler][beam]") {
  const auto vocab = vocab_of(kText);
  auto model = random_model(vocab);
  const auto seed = charnn::prepare_seed("Prince", vocab, charnn::UnknownUnits::error);
  charnn::BeamOptions beam;
  beam.length = 60;
  beam.width = 3;
  beam.precision = std::nullopt;
  const auto free = charnn::beam_search(*model, vocab, seed, beam);
  // A stop string the unstopped result contains ends some hypothesis no later than it does;
  // compared by total likelihood (penalty 0), a text of 12 units or fewer beats any of 60.
  beam.stop = free.text.substr(10, 2);
  beam.length_penalty = 0;
  const auto stopped = charnn::beam_search(*model, vocab, seed, beam);
  CHECK(stopped.stopped);
  CHECK(stopped.text.ends_with(beam.stop));
  CHECK(stopped.text.find(beam.stop) == stopped.text.size() - beam.stop.size());
  beam.width = 0;
  CHECK_THROWS_WITH(charnn::beam_search(*model, vocab, seed, beam), Catch::Contains("--beam 0"));
  beam.width = 2;
  beam.length_penalty = -1;
  CHECK_THROWS_AS(charnn::beam_search(*model, vocab, seed, beam), charnn::error);
  beam.length_penalty = 1;
  beam.length = 0;
  CHECK(charnn::beam_search(*model, vocab, seed, beam).text.empty());
}

namespace {

// Whether some n-unit sequence occurs twice in ids.
bool has_repeat(const std::vector<std::int32_t>& ids, std::size_t n) {
  for (std::size_t a = 0; a + n <= ids.size(); ++a)
    for (std::size_t b = a + 1; b + n <= ids.size(); ++b)
      if (std::equal(ids.begin() + static_cast<std::ptrdiff_t>(a),
                     ids.begin() + static_cast<std::ptrdiff_t>(a + n),
                     ids.begin() + static_cast<std::ptrdiff_t>(b)))
        return true;
  return false;
}

}  // namespace

TEST_CASE("--no-repeat N: no N units occur twice, in the beam and the greedy line alike",
          "[sampler][beam]") {
  const auto vocab = vocab_of(kText);
  auto model = random_model(vocab);
  const auto seed = charnn::prepare_seed("Prince", vocab, charnn::UnknownUnits::error);
  charnn::BeamOptions beam;
  beam.length = 120;
  beam.precision = std::nullopt;
  beam.no_repeat = 0;
  const std::int64_t width = GENERATE(1, 4);
  CAPTURE(width);
  beam.width = width;
  const auto free = charnn::beam_search(*model, vocab, seed, beam);
  // The model is random but peaked: its most likely text loops, or the rule would test nothing.
  REQUIRE(has_repeat(free.ids, 6));
  for (const std::int64_t n : {2, 3, 6}) {
    CAPTURE(n);
    beam.no_repeat = n;
    const auto r = charnn::beam_search(*model, vocab, seed, beam);
    REQUIRE(r.ids.size() == 120);
    CHECK_FALSE(has_repeat(r.ids, static_cast<std::size_t>(n)));
    CHECK(r.nats >= free.nats - 1e-6);  // a constraint cannot make the text more likely
    CHECK(vocab.decode(r.ids) == r.text);
  }
  beam.no_repeat = 1;
  CHECK_THROWS_WITH(charnn::beam_search(*model, vocab, seed, beam),
                    Catch::Contains("--no-repeat 1"));
}
