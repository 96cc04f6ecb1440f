// Sampling: the policy and the unit picker against closed forms and a chi-square test, seed
// preparation (unknown units) and the generation loop on a small model. The `charnn sample`
// command is tested in test_cli_sample.cpp.
#include <charnn/json.hpp>
#include <charnn/checkpoint.hpp>
#include <charnn/error.hpp>
#include <charnn/model.hpp>
#include <charnn/plugin_registry.hpp>
#include <charnn/sampler.hpp>
#include <charnn/text.hpp>
#include <charnn/threads.hpp>
#include <charnn/vocab.hpp>

#include <catch2/catch.hpp>

#include "sampling_support.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

using charnn::Draw;
using charnn::Rng;
using charnn::SamplingPolicy;
using charnn::UnitPicker;
using charnn::test::kText;
using charnn::test::random_model;
using charnn::test::vocab_of;

namespace {

// Reference softmax of logits / temperature, restricted to the ids in keep (all when empty).
std::vector<double> reference_distribution(const std::vector<float>& logits, double temperature,
                                           const std::vector<int>& keep = {}) {
  std::vector<double> q(logits.size(), 0.0);
  double m = *std::max_element(logits.begin(), logits.end());
  double sum = 0.0;
  for (std::size_t i = 0; i < logits.size(); ++i) {
    bool kept = keep.empty() || std::find(keep.begin(), keep.end(), int(i)) != keep.end();
    if (kept) sum += q[i] = std::exp((logits[i] - m) / temperature);
  }
  for (auto& v : q) v /= sum;
  return q;
}

// Pearson chi-square statistic of observed counts against expected probabilities (cells with
// expected probability 0 must have no observations; they are skipped otherwise).
double chi_square(const std::vector<std::int64_t>& counts, const std::vector<double>& probs,
                  std::int64_t draws) {
  double chi2 = 0.0;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    if (probs[i] == 0.0) {
      REQUIRE(counts[i] == 0);
      continue;
    }
    const double e = probs[i] * static_cast<double>(draws);
    chi2 += (static_cast<double>(counts[i]) - e) * (static_cast<double>(counts[i]) - e) / e;
  }
  return chi2;
}

std::vector<std::int64_t> draw_counts(UnitPicker& picker, const std::vector<float>& logits,
                                      std::int64_t draws, std::uint64_t seed) {
  std::vector<std::int64_t> counts(logits.size(), 0);
  Rng rng(seed);
  for (std::int64_t i = 0; i < draws; ++i)
    ++counts[static_cast<std::size_t>(picker.pick(logits, rng).id)];
  return counts;
}

std::vector<float> random_logits(Rng& rng, std::size_t V, double scale) {
  std::vector<float> l(V);
  for (auto& x : l) x = static_cast<float>((rng.uniform() * 2.0 - 1.0) * scale);
  return l;
}

}  // namespace

TEST_CASE("the sampler's xoshiro256** matches the reference sequence", "[sampler][rng]") {
  // First outputs of the reference xoshiro256** (Blackman & Vigna) from the state {1, 2, 3, 4}.
  Rng rng(std::array<std::uint64_t, 4>{1, 2, 3, 4});
  CHECK(rng.next() == 11520u);
  CHECK(rng.next() == 0u);
  CHECK(rng.next() == 1509978240u);
  CHECK(rng.next() == 1215971899390074240u);
}

TEST_CASE("a fixed random seed reproduces the draws and streams are independent",
          "[sampler][rng]") {
  Rng a(42, 0), b(42, 0), c(42, 1), d(43, 0);
  int same_c = 0, same_d = 0;
  for (int i = 0; i < 1000; ++i) {
    const auto x = a.next();
    REQUIRE(x == b.next());
    same_c += x == c.next();
    same_d += x == d.next();
  }
  CHECK(same_c == 0);
  CHECK(same_d == 0);
  Rng u(7);
  for (int i = 0; i < 10000; ++i) {
    const double v = u.uniform();
    REQUIRE(v >= 0.0);
    REQUIRE(v < 1.0);
  }
}

TEST_CASE("invalid sampling policies are clear errors", "[sampler][policy]") {
  auto bad = [](SamplingPolicy p) {
    CHECK_THROWS_AS(p.validate(), charnn::error);
    CHECK_THROWS_AS(UnitPicker(p, 10), charnn::error);
  };
  SamplingPolicy p;
  p.temperature = -0.5f;
  bad(p);
  p.temperature = std::nanf("");
  bad(p);
  p.temperature = INFINITY;
  bad(p);
  p = {};
  p.top_p = 0.0f;
  bad(p);
  p.top_p = 1.5f;
  bad(p);
  p.top_p = -0.1f;
  bad(p);
  p = {};
  p.top_k = 0;
  bad(p);
  p.top_k = -3;
  bad(p);

  // The error says what to do.
  p = {};
  p.top_p = 2.0f;
  try {
    p.validate();
    FAIL("no error");
  } catch (const charnn::error& e) {
    CHECK_THAT(e.what(), Catch::Contains("top-p"));
    CHECK_FALSE(e.hint().empty());
  }

  // The edges that are allowed.
  p = {};
  p.temperature = 0.0f;
  CHECK_NOTHROW(p.validate());
  CHECK(p.is_greedy());
  p = {};
  p.top_p = 1.0f;
  p.top_k = 1;
  CHECK_NOTHROW(p.validate());
  CHECK(SamplingPolicy{}.describe() == "temperature 1");
}

TEST_CASE("greedy picks the first most probable unit and is deterministic", "[sampler][picker]") {
  SamplingPolicy greedy;
  greedy.greedy = true;
  UnitPicker picker(greedy, 5);
  const std::vector<float> logits{0.5f, 3.0f, -1.0f, 3.0f, 2.0f};
  Rng rng(1), untouched(1);
  for (int i = 0; i < 100; ++i) {
    const Draw d = picker.pick(logits, rng);
    REQUIRE(d.id == 1);  // ties go to the lower id
    REQUIRE(d.q == 1.0f);
    REQUIRE(d.p == Approx(reference_distribution(logits, 1.0)[1]));
  }
  CHECK(rng.next() == untouched.next());  // greedy consumes no randomness

  // Temperature 0 is greedy too.
  SamplingPolicy zero;
  zero.temperature = 0.0f;
  UnitPicker z(zero, 5);
  CHECK(z.pick(logits, rng).id == 1);
}

TEST_CASE("top-k 1 gives the same units as greedy", "[sampler][picker]") {
  SamplingPolicy greedy;
  greedy.greedy = true;
  SamplingPolicy top1;
  top1.top_k = 1;
  top1.temperature = 1.7f;
  UnitPicker g(greedy, 50), k(top1, 50);
  Rng logit_rng(3), r1(9), r2(10);
  for (int i = 0; i < 500; ++i) {
    const auto logits = random_logits(logit_rng, 50, 4.0);
    const Draw a = g.pick(logits, r1);
    const Draw b = k.pick(logits, r2);
    REQUIRE(a.id == b.id);
    REQUIRE(b.q == Approx(1.0f));
  }
}

TEST_CASE("a temperature near 0 approaches greedy", "[sampler][picker]") {
  Rng logit_rng(5), rng(6);
  std::vector<float> dist(30);
  for (const float t : {0.05f, 0.01f, 1e-4f, 1e-30f}) {
    SamplingPolicy cold;
    cold.temperature = t;
    UnitPicker picker(cold, 30);
    SamplingPolicy greedy;
    greedy.greedy = true;
    UnitPicker g(greedy, 30);
    for (int i = 0; i < 200; ++i) {
      // The best logit at least 1 above the runner-up: exp(-1 / 0.05) < 3e-9 per unit.
      auto logits = random_logits(logit_rng, 30, 3.0);
      const Draw best = g.pick(logits, rng);
      logits[static_cast<std::size_t>(best.id)] += 1.0f;
      REQUIRE(picker.pick(logits, rng).id == best.id);
      picker.distribution(logits, dist);
      REQUIRE(dist[static_cast<std::size_t>(best.id)] >= 1.0f - 30 * std::exp(-1.0f / t));
    }
  }
}

TEST_CASE("sampled frequencies at temperature 1 match the softmax (chi-square)",
          "[sampler][picker]") {
  const std::vector<float> logits{2.0f, 1.0f, 0.5f, 0.0f, -1.0f, -3.0f};
  const std::int64_t draws = 200000;
  UnitPicker picker(SamplingPolicy{}, 6);
  const auto counts = draw_counts(picker, logits, draws, 20261121);
  const double chi2 = chi_square(counts, reference_distribution(logits, 1.0), draws);
  // 5 degrees of freedom; P(chi2 > 20.52) = 0.001 for a correct sampler.
  INFO("chi-square " << chi2);
  CHECK(chi2 < 20.52);

  // The recorded probabilities are the softmax itself.
  Rng rng(1);
  const auto ref = reference_distribution(logits, 1.0);
  for (int i = 0; i < 50; ++i) {
    const Draw d = picker.pick(logits, rng);
    REQUIRE(d.p == Approx(ref[static_cast<std::size_t>(d.id)]).epsilon(1e-5));
    REQUIRE(d.q == Approx(ref[static_cast<std::size_t>(d.id)]).epsilon(1e-5));
  }

  // A distribution that is not uniform is detected: the same draws against the wrong
  // probabilities (temperature 2) fail the test by far, so the test has power.
  CHECK(chi_square(counts, reference_distribution(logits, 2.0), draws) > 1000.0);
}

TEST_CASE("temperature and top-k reshape the distribution as specified (chi-square)",
          "[sampler][picker]") {
  const std::vector<float> logits{0.3f, 1.2f, -0.4f, 2.0f, 0.9f, 1.5f, -2.0f, 0.0f};
  SamplingPolicy policy;
  policy.temperature = 0.6f;
  policy.top_k = 4;  // ids 3 (2.0), 5 (1.5), 1 (1.2), 4 (0.9)
  UnitPicker picker(policy, 8);
  const auto expected = reference_distribution(logits, 0.6, {3, 5, 1, 4});
  std::vector<float> dist(8);
  picker.distribution(logits, dist);
  for (std::size_t i = 0; i < 8; ++i) CHECK(dist[i] == Approx(expected[i]).margin(1e-6));
  const std::int64_t draws = 100000;
  const auto counts = draw_counts(picker, logits, draws, 77);
  // 3 degrees of freedom; P(chi2 > 16.27) = 0.001.
  CHECK(chi_square(counts, expected, draws) < 16.27);
}

TEST_CASE("top-p never emits a unit outside the nucleus", "[sampler][picker]") {
  // Probabilities 0.5, 0.25, 0.125, 0.0625, ... (as logits log p): the nucleus for p = 0.7 is
  // {0, 1} (0.5 < 0.7 <= 0.75); for p = 0.5 just {0}; for p = 0.76 {0, 1, 2}.
  std::vector<float> logits(8);
  for (std::size_t i = 0; i < 8; ++i) logits[i] = static_cast<float>(-std::log(2.0) * (i + 1));
  std::reverse(logits.begin(), logits.end());  // the most probable unit has the highest id
  const std::vector<std::pair<float, int>> cases{{0.7f, 2}, {0.5f, 1}, {0.76f, 3}, {1.0f, 8}};
  for (const auto& [p, size] : cases) {
    SamplingPolicy policy;
    policy.top_p = p;
    UnitPicker picker(policy, 8);
    std::vector<int> nucleus;
    for (int j = 0; j < size; ++j) nucleus.push_back(7 - j);
    const auto expected = reference_distribution(logits, 1.0, nucleus);
    const std::int64_t draws = 40000;
    const auto counts = draw_counts(picker, logits, draws, 11);
    INFO("top-p " << p);
    for (int id = 0; id < 8; ++id) {
      const bool inside = std::find(nucleus.begin(), nucleus.end(), id) != nucleus.end();
      if (!inside) REQUIRE(counts[static_cast<std::size_t>(id)] == 0);
      if (inside) REQUIRE(counts[static_cast<std::size_t>(id)] > 0);
    }
    // The nucleus is renormalised: 7 degrees of freedom at most; P(chi2 > 24.32) = 0.001.
    CHECK(chi_square(counts, expected, draws) < 24.32);
  }
  // Random logits: every draw lies in the nucleus computed independently here.
  Rng logit_rng(8), rng(9);
  SamplingPolicy policy;
  policy.top_p = 0.9f;
  policy.temperature = 0.8f;
  UnitPicker picker(policy, 40);
  for (int i = 0; i < 300; ++i) {
    const auto logits = random_logits(logit_rng, 40, 3.0);
    const auto q = reference_distribution(logits, 0.8);
    std::vector<int> order(40);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](int a, int b) { return q[a] > q[b]; });
    double cum = 0.0;
    std::vector<int> nucleus;
    for (int id : order) {
      nucleus.push_back(id);
      if ((cum += q[static_cast<std::size_t>(id)]) >= 0.9 - 1e-6) break;
    }
    const Draw d = picker.pick(logits, rng);
    REQUIRE(std::find(nucleus.begin(), nucleus.end(), d.id) != nucleus.end());
  }
}

TEST_CASE("non-finite logits are an error, not a silent sample", "[sampler][picker]") {
  UnitPicker picker(SamplingPolicy{}, 3);
  Rng rng(1);
  CHECK_THROWS_AS(picker.pick(std::vector<float>{0.0f, std::nanf(""), 1.0f}, rng), charnn::error);
  CHECK_THROWS_AS(picker.pick(std::vector<float>{0.0f, INFINITY, 1.0f}, rng), charnn::error);
  CHECK_THROWS_AS(picker.pick(std::vector<float>{0.0f, 1.0f}, rng), charnn::error);  // wrong V
}

TEST_CASE("command-line escapes in a stop string are undone", "[sampler]") {
  CHECK(charnn::unescape_cli("\\n\\n") == "\n\n");
  CHECK(charnn::unescape_cli("a\\tb\\\\n") == "a\tb\\n");
  CHECK(charnn::unescape_cli("\\x") == "\\x");
  CHECK(charnn::unescape_cli("end\\") == "end\\");
  CHECK(charnn::json_string("a\"b\\c\n\x01") == "\"a\\\"b\\\\c\\n\\u0001\"");
}

// ---------------------------------------------------------------------------------------------
// Seeds and the generation loop on a small model with random weights.

// vocab_of, random_model and kText: sampling_support.hpp.

TEST_CASE("seed units not in the vocabulary are an error, skipped or mapped", "[sampler][seed]") {
  const auto vocab = vocab_of(kText);  // no unknown symbol; no 'z', '!' or tab
  using charnn::UnknownUnits;
  try {
    charnn::prepare_seed("Prize!\tz", vocab, UnknownUnits::error);
    FAIL("no error");
  } catch (const charnn::error& e) {
    const std::string msg = e.what();
    CHECK_THAT(msg, Catch::Contains("--seed") && Catch::Contains("'z'") && Catch::Contains("'!'") &&
                        Catch::Contains("'\\t'"));
    CHECK_THAT(msg, Catch::Contains("4 unit(s)"));
    CHECK_THAT(e.hint(), Catch::Contains("--unknown skip"));
  }
  const auto skipped = charnn::prepare_seed("Prize!\tz", vocab, UnknownUnits::skip);
  CHECK(skipped.text == "Prize!\tz");  // printed as given
  CHECK(vocab.decode(skipped.ids) == "Prie");
  CHECK(skipped.unknown_count == 4);  // z twice
  CHECK(skipped.unknown == std::vector<std::string>{"z", "!", "\\t"});
  // No unknown symbol to map to: an error that points at skip.
  CHECK_THROWS_WITH(charnn::prepare_seed("z", vocab, UnknownUnits::map),
                    Catch::Contains("no unknown symbol"));

  // A vocabulary with an unknown symbol (units seen once are dropped).
  charnn::VocabOptions rare;
  rare.min_count = 2;
  const auto small = vocab_of(kText, rare);
  REQUIRE(small.has_unknown());
  REQUIRE_FALSE(small.find("J"));  // 'J' occurs once
  const auto mapped = charnn::prepare_seed("Jaz", small, UnknownUnits::map);
  CHECK(mapped.ids ==
        std::vector<std::int32_t>{small.unknown_id(), *small.find("a"), small.unknown_id()});
  CHECK(mapped.unknown_count == 2);
  CHECK_THROWS_AS(charnn::prepare_seed("Jaz", small, UnknownUnits::error), charnn::error);
  CHECK_THROWS_AS(charnn::parse_unknown_units("ignore"), charnn::error);
}

TEST_CASE("the seed is normalised as the corpus was", "[sampler][seed]") {
  const auto vocab = vocab_of("caf\xC3\xA9 au lait\n");  // precomposed e-acute
  // Decomposed e + combining acute and a CRLF line end: NFC and LF, like the corpus.
  const auto seed = charnn::prepare_seed("cafe\xCC\x81\r\n", vocab, charnn::UnknownUnits::error);
  CHECK(seed.text == "caf\xC3\xA9\n");
  CHECK(seed.ids.size() == 5);
  CHECK(seed.ids[3] == *vocab.find("\xC3\xA9"));
  // An empty seed is allowed; the model then starts from a line break.
  CHECK(charnn::prepare_seed("", vocab, charnn::UnknownUnits::error).ids.empty());
  CHECK(charnn::empty_seed_unit(vocab) == *vocab.find("\n"));
  CHECK(charnn::empty_seed_unit(vocab_of("abcab")) == 0);  // no line break: the most frequent
}

TEST_CASE("greedy generation is deterministic and the same in every stream", "[sampler][loop]") {
  const auto vocab = vocab_of(kText);
  auto model = random_model(vocab);
  charnn::Sampler sampler(*model, vocab);
  const auto seed = charnn::prepare_seed("Prince", vocab, charnn::UnknownUnits::error);
  charnn::SampleOptions options;
  options.length = 80;
  options.count = 3;
  options.policy.greedy = true;
  options.record_probabilities = true;
  const auto a = sampler.run(seed, options);
  const auto b = sampler.run(seed, options);
  REQUIRE(a.size() == 3);
  CHECK(a[0].ids.size() == 80);
  CHECK(vocab.decode(a[0].ids) == a[0].text);
  for (std::size_t n = 0; n < 3; ++n) {
    CHECK(a[n].text == a[0].text);
    CHECK(b[n].text == a[0].text);
  }
  // Greedy picks the most probable unit every time: q is 1 and p is the largest probability,
  // so it is at least 1/V.
  for (std::size_t i = 0; i < a[0].p.size(); ++i) {
    REQUIRE(a[0].q[i] == 1.0f);
    REQUIRE(a[0].p[i] >= 1.0f / static_cast<float>(vocab.size()));
  }
}

TEST_CASE("a fixed random seed reproduces the generated text", "[sampler][loop]") {
  const auto vocab = vocab_of(kText);
  auto model = random_model(vocab);
  charnn::Sampler sampler(*model, vocab);
  const auto seed = charnn::prepare_seed("Well, ", vocab, charnn::UnknownUnits::error);
  charnn::SampleOptions options;
  options.length = 120;
  options.count = 4;
  options.random_seed = 2024;
  const auto a = sampler.run(seed, options);
  const auto b = sampler.run(seed, options);
  for (std::size_t n = 0; n < 4; ++n) CHECK(a[n].text == b[n].text);
  CHECK(a[0].text != a[1].text);  // streams draw independently
  options.random_seed = 2025;
  CHECK(sampler.run(seed, options)[0].text != a[0].text);

  // Whatever the thread count, for each precision of the step path.
  const int threads = charnn::get_threads();
  for (const auto precision : {charnn::StepPrecision::automatic, charnn::StepPrecision::f32,
                               charnn::StepPrecision::bf16, charnn::StepPrecision::int8}) {
    CAPTURE(charnn::to_string(precision));
    options.precision = precision;
    charnn::set_threads(1);
    const auto one = sampler.run(seed, options);
    charnn::set_threads(2);
    const auto two = sampler.run(seed, options);
    // Primitives made under 2 threads, run under 1.
    charnn::set_threads(1);
    const auto again = sampler.run(seed, options);
    for (std::size_t n = 0; n < 4; ++n) {
      CHECK(one[n].text == two[n].text);
      CHECK(one[n].text == again[n].text);
    }
  }
  // Letting the sampler switch between 1 and 2 threads as it goes (long enough for several
  // probe rounds) changes nothing either, and the caller's setting is restored.
  options.precision = charnn::StepPrecision::automatic;
  options.length = 1500;
  charnn::set_threads(1);
  const auto fixed = sampler.run(seed, options);
  charnn::set_threads(2);
  options.tune_threads = true;
  const auto tuned = sampler.run(seed, options);
  CHECK(charnn::get_threads() == 2);
  for (std::size_t n = 0; n < 4; ++n) CHECK(tuned[n].text == fixed[n].text);
  charnn::set_threads(threads);
}

TEST_CASE("the prepared step path gives the plain path's logits: f32 1e-5, bf16 1e-3, int8 2e-3",
          "[sampler][loop][prepared]") {
  // bf16: weights and matmul inputs keep 8 significant bits (relative error <= 2^-9); here the
  // logits moved by 6e-5 at most over 40 steps (H = 64). The tolerance is 1e-3 absolute. The model
  // has training's initial weights (not the 4x-scaled ones of random_model, whose chaotic dynamics
  // amplify any rounding over 40 steps).
  const auto vocab = vocab_of(kText);
  auto model = random_model(vocab, 64);
  model->init_params(12345);
  const std::int64_t V = vocab.size(), N = 3, steps = 40;
  // Logits (steps, N, V) of a fixed id sequence from the zero state.
  auto logits_of = [&] {
    auto state = model->zero_state(N);
    std::vector<float> all(static_cast<std::size_t>(steps * N * V));
    std::vector<std::int32_t> ids(static_cast<std::size_t>(N));
    for (std::int64_t t = 0; t < steps; ++t) {
      for (std::int64_t n = 0; n < N; ++n)
        ids[static_cast<std::size_t>(n)] = static_cast<std::int32_t>((t * 7 + n * 3) % V);
      model->step(ids, state, all.data() + t * N * V);
    }
    return all;
  };
  auto max_diff = [](const std::vector<float>& a, const std::vector<float>& b) {
    double m = 0.0;
    for (std::size_t k = 0; k < a.size(); ++k) m = std::max(m, std::abs(double(a[k]) - b[k]));
    return m;
  };
  const auto plain = logits_of();
  CHECK(model->prepare_inference(charnn::StepPrecision::f32) == "f32");
  const auto f32 = logits_of();
  CHECK(max_diff(f32, plain) < 1e-5);
  const std::string used = model->prepare_inference(charnn::StepPrecision::bf16);
  const auto bf16 = logits_of();
  if (used == "bf16") {
    INFO("max |bf16 - f32 logit| = " << max_diff(bf16, plain));
    CHECK(max_diff(bf16, plain) < 1e-3);
    CHECK(max_diff(bf16, plain) > 0.0);  // the bf16 copy is really in use
  } else {
    CHECK(used == "f32");  // no native bf16: the model falls back to a prepared f32 copy
    WARN("no native bf16 on this CPU: the bf16 step path is not tested");
  }
  CHECK(charnn::default_step_precision() ==
        (used == "bf16" ? charnn::StepPrecision::bf16 : charnn::StepPrecision::f32));
  // int8 (opt-in): a few times bf16's error.
  const std::string used8 = model->prepare_inference(charnn::StepPrecision::int8);
  const auto int8 = logits_of();
  if (used8 == "int8") {
    INFO("max |int8 - f32 logit| = " << max_diff(int8, plain));
    CHECK(max_diff(int8, plain) < 2e-3);  // measured 1.7e-4
    CHECK(max_diff(int8, plain) > 0.0);
  } else {
    WARN("no fast int8 on this CPU (" << used8 << " instead): the int8 step path is not tested");
  }

  // Changing the weights through the mutable params() drops the prepared copies, so step()
  // sees the new weights at once (as a trainer would need).
  model->prepare_inference(charnn::StepPrecision::f32);
  for (auto& w : model->params()) w *= 0.5f;
  const auto changed = logits_of();
  model->release_inference();
  CHECK(logits_of() == changed);
  CHECK(max_diff(changed, plain) > 1e-3);
  // And init_params does too.
  model->prepare_inference(charnn::StepPrecision::f32);
  model->init_params(777);
  const auto reinit = logits_of();
  model->release_inference();
  CHECK(logits_of() == reinit);
  CHECK_THROWS_WITH(charnn::parse_step_precision("fp16"), Catch::Contains("'fp16'"));
}

TEST_CASE("automatic sampling precision keeps int8 only when its probe stays within the limit",
          "[sampler][prepared]") {
  const auto vocab = vocab_of(kText);
  auto model = random_model(vocab, 64);
  model->init_params(4321);
  if (model->prepare_inference(charnn::StepPrecision::int8) != "int8") {
    // No fast int8 here: automatic is what it always was.
    CHECK(charnn::prepare_step_path(*model) == charnn::to_string(charnn::default_step_precision()));
    // Asked for by name, the summary says that int8 was not taken.
    CHECK_THAT(charnn::prepare_step_path(*model, charnn::StepPrecision::int8),
               Catch::Contains("(int8 was asked for") && Catch::Contains("AVX512 VNNI"));
    WARN("no fast int8 on this CPU: the automatic int8 probe is not tested");
    return;
  }
  // The usual limit: these small initial weights quantise well.
  const std::string kept = charnn::prepare_step_path(*model);
  INFO(kept);
  CHECK(kept.rfind("int8 (", 0) == 0);
  CHECK(kept.find("nats/unit") != std::string::npos);
  // Any rounding moves the predictions a little, so a limit of 0 rejects int8...
  const std::string rejected =
      charnn::prepare_step_path(*model, charnn::StepPrecision::automatic, 0.0);
  INFO(rejected);
  CHECK(rejected.rfind(charnn::to_string(charnn::default_step_precision()) + " (int8 moved", 0) ==
        0);
  CHECK(rejected.find("over the 0 limit") != std::string::npos);
  // ...and the model then steps as the fallback precision does, not as int8.
  std::vector<float> got(static_cast<std::size_t>(vocab.size())), want(got.size());
  const std::vector<std::int32_t> id{1};
  auto state = model->zero_state(1);
  model->step(id, state, got.data());
  model->prepare_inference(charnn::default_step_precision());
  state = model->zero_state(1);
  model->step(id, state, want.data());
  CHECK(got == want);
  // The probe leaves no trace: the same choice twice gives the same summary.
  CHECK(charnn::prepare_step_path(*model) == kept);
}

TEST_CASE("a seed longer than the training segment primes the model with all of it",
          "[sampler][loop]") {
  // 1500 units: longer than any training segment and than the trace's 512-unit chunks. The
  // probabilities the sampler records for its first unit must equal the ones the sequence path
  // (Model::trace, a different code path) computes after the same seed.
  const auto vocab = vocab_of(kText);
  auto model = random_model(vocab);
  std::string long_seed;
  while (long_seed.size() < 1500) long_seed += kText;
  long_seed.resize(1500);
  const auto seed = charnn::prepare_seed(long_seed, vocab, charnn::UnknownUnits::error);
  REQUIRE(seed.ids.size() == 1500);

  // The reference steps through the whole seed one unit at a time, in the sampler's arithmetic:
  // over 1,500 steps a random model amplifies any other path's last-bit differences (the
  // sequence trace's, or int8 weights') to 1e-3 in a probability.
  std::vector<float> last_row(vocab.size());
  auto state = model->zero_state(1);
  for (const std::int32_t id : seed.ids)
    model->step(std::span<const std::int32_t>(&id, 1), state, last_row.data());
  float m = *std::max_element(last_row.begin(), last_row.end());
  double sum = 0.0;
  for (float x : last_row) sum += std::exp(x - m);

  charnn::Sampler sampler(*model, vocab);
  charnn::SampleOptions options;
  options.length = 5;
  options.random_seed = 3;
  options.record_probabilities = true;
  options.precision = std::nullopt;  // the plain float32 step, as the reference
  const auto s = sampler.run(seed, options)[0];
  const auto id = static_cast<std::size_t>(s.ids[0]);
  CHECK(s.p[0] == Approx(std::exp(last_row[id] - m) / sum).epsilon(1e-5));
}

TEST_CASE("a stop string ends a sample early and stays in its text", "[sampler][loop]") {
  const auto vocab = vocab_of(kText);
  auto model = random_model(vocab);
  charnn::Sampler sampler(*model, vocab);
  const auto seed = charnn::prepare_seed("so ", vocab, charnn::UnknownUnits::error);
  charnn::SampleOptions options;
  options.length = 60;
  options.count = 2;
  options.policy.greedy = true;
  const std::string full = sampler.run(seed, options)[0].text;
  REQUIRE(full.size() >= 10);  // every unit of kText is one byte
  options.stop = full.substr(6, 2);
  const std::size_t end = full.find(options.stop) + 2;

  std::vector<std::int64_t> finished;
  std::int64_t units = 0;
  charnn::SampleCallbacks callbacks;
  callbacks.on_unit = [&](std::int64_t, std::string_view) { ++units; };
  callbacks.on_finished = [&](std::int64_t n, const charnn::Sample& s) {
    finished.push_back(n);
    CHECK(s.stopped);
    CHECK(s.text == full.substr(0, end));
  };
  const auto stopped = sampler.run(seed, options, callbacks);
  CHECK(finished == std::vector<std::int64_t>{0, 1});
  CHECK(units == static_cast<std::int64_t>(2 * end));
  CHECK(stopped[1].text == full.substr(0, end));

  // Without a stop string every sample has exactly `length` units and is not "stopped".
  options.stop.clear();
  for (const auto& s : sampler.run(seed, options)) {
    CHECK(s.ids.size() == 60);
    CHECK_FALSE(s.stopped);
  }
}

TEST_CASE("an empty seed samples from the zero state", "[sampler][loop]") {
  const auto vocab = vocab_of(kText);
  auto model = random_model(vocab);
  charnn::Sampler sampler(*model, vocab);
  charnn::SampleOptions options;
  options.length = 30;
  options.policy.greedy = true;
  options.record_probabilities = true;
  const auto s = sampler.run(charnn::PreparedSeed{}, options)[0];
  CHECK(s.ids.size() == 30);
  // Equivalent to a seed of one line break, which is what an empty seed stands for.
  const auto nl = charnn::prepare_seed("\n", vocab, charnn::UnknownUnits::error);
  CHECK(sampler.run(nl, options)[0].text == s.text);
}
