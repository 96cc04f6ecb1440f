// Sampling: the policy and the unit picker against closed forms and a chi-square test, seed
// preparation (unknown units), the generation loop on a small model, and the `charnn sample`
// command against a model trained in the test.
#include <charnn/error.hpp>
#include <charnn/sampler.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

using charnn::Draw;
using charnn::Rng;
using charnn::SamplingPolicy;
using charnn::UnitPicker;

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
  CHECK(charnn::json_quote("a\"b\\c\n\x01") == "\"a\\\"b\\\\c\\n\\u0001\"");
}
