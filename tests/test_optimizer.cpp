// Optimisers against their closed forms, clipping by global norm, the learning-rate schedules
// and the running average of the weights.
#include <charnn/error.hpp>
#include <charnn/optimizer.hpp>
#include <charnn/threads.hpp>
#include <charnn/weight_average.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;
using namespace charnn;

TEST_CASE("adam matches its closed form over two steps", "[optimizer]") {
  OptimizerConfig c;  // beta1 0.9, beta2 0.999, eps 1e-8
  Optimizer opt(c, 3);
  std::vector<float> p = {1.0f, -2.0f, 0.5f};
  const std::vector<float> g1 = {0.5f, -0.25f, 0.0f}, g2 = {-1.0f, 0.5f, 2.0f};
  const double lr = 0.1;
  // Step 1: m_hat = g, v_hat = g^2, so the update is lr * sign(g) (0 where g = 0).
  opt.step(p, g1, lr);
  CHECK_THAT(p[0], WithinAbs(1.0 - 0.1, 1e-6));
  CHECK_THAT(p[1], WithinAbs(-2.0 + 0.1, 1e-6));
  CHECK_THAT(p[2], WithinAbs(0.5, 1e-7));
  opt.step(p, g2, lr);
  for (int i = 0; i < 3; ++i) {
    const double m = 0.9 * 0.1 * g1[i] + 0.1 * g2[i];
    const double v = 0.999 * 0.001 * g1[i] * g1[i] + 0.001 * g2[i] * g2[i];
    const double mh = m / (1 - 0.81), vh = v / (1 - 0.999 * 0.999);
    const double first = i == 2 ? 0.5 : (i == 0 ? 0.9 : -1.9);
    CHECK_THAT(p[i], WithinAbs(first - lr * mh / (std::sqrt(vh) + 1e-8), 1e-5));
  }
  CHECK(opt.steps() == 2);
  CHECK(opt.state().size() == 6);  // m and v
}

TEST_CASE("rmsprop and sgd with momentum match their closed forms", "[optimizer]") {
  SECTION("rmsprop") {
    OptimizerConfig c;
    c.kind = OptimizerKind::rmsprop;
    c.rms_decay = 0.9;
    Optimizer opt(c, 1);
    std::vector<float> p = {1.0f};
    opt.step(p, std::vector<float>{2.0f}, 0.01);
    const double s = 0.1 * 4.0;
    CHECK_THAT(p[0], WithinAbs(1.0 - 0.01 * 2.0 / (std::sqrt(s) + 1e-8), 1e-6));
  }
  SECTION("sgd") {
    OptimizerConfig c;
    c.kind = OptimizerKind::sgd;
    c.momentum = 0.5;
    Optimizer opt(c, 1);
    std::vector<float> p = {1.0f};
    opt.step(p, std::vector<float>{1.0f}, 0.1);  // v = 1, p = 0.9
    opt.step(p, std::vector<float>{1.0f}, 0.1);  // v = 1.5, p = 0.75
    CHECK_THAT(p[0], WithinAbs(0.75, 1e-6));
  }
}

TEST_CASE("weight decay is added to the gradient (l2) or applied apart from the update (decoupled)",
          "[optimizer]") {
  const OptimizerKind kind =
      GENERATE(OptimizerKind::adam, OptimizerKind::rmsprop, OptimizerKind::sgd);
  const WeightDecayMode mode = GENERATE(WeightDecayMode::l2, WeightDecayMode::decoupled);
  CAPTURE(to_string(kind), to_string(mode));
  OptimizerConfig c;
  c.kind = kind;
  c.rms_decay = 0.9;
  c.weight_decay = 0.5;
  c.weight_decay_mode = mode;
  Optimizer opt(c, 1);
  const double w = 2.0, g = 0.25, lr = 0.1, wd = 0.5;
  std::vector<float> p = {static_cast<float>(w)};
  opt.step(p, std::vector<float>{static_cast<float>(g)}, lr);
  // One step from zero state. The gradient the optimiser sees, and what it does with it:
  // Adam's first step is lr * sign; RMSprop divides by sqrt(0.1 g^2); SGD's velocity is g.
  const bool l2 = mode == WeightDecayMode::l2;
  const double seen = l2 ? g + wd * w : g;
  double update = 0;
  switch (kind) {
    case OptimizerKind::adam:
      update = lr * seen / (std::abs(seen) + 1e-8);
      break;
    case OptimizerKind::rmsprop:
      update = lr * seen / (std::sqrt(0.1 * seen * seen) + 1e-8);
      break;
    case OptimizerKind::sgd:
      update = lr * seen;
      break;
  }
  const double expected = (l2 ? w : w - lr * wd * w) - update;
  CHECK_THAT(p[0], WithinAbs(expected, 1e-6));
}

TEST_CASE("weight decay modes have names", "[optimizer]") {
  CHECK(to_string(WeightDecayMode::l2) == "l2");
  CHECK(parse_weight_decay_mode("decoupled") == WeightDecayMode::decoupled);
  CHECK_THROWS_AS(parse_weight_decay_mode("adamw"), charnn::error);
}

TEST_CASE("every optimiser minimises a quadratic", "[optimizer]") {
  const auto kind = GENERATE(OptimizerKind::adam, OptimizerKind::rmsprop, OptimizerKind::sgd);
  CAPTURE(to_string(kind));
  OptimizerConfig c;
  c.kind = kind;
  const std::int64_t n = 1000;
  Optimizer opt(c, n);
  std::vector<float> p(n), g(n);
  for (std::int64_t i = 0; i < n; ++i) p[i] = static_cast<float>(std::sin(i * 1.3)) * 3.0f;
  const double lr = kind == OptimizerKind::sgd ? 0.05 : 0.05;
  for (int it = 0; it < 600; ++it) {
    // f = sum (i % 7 + 1) / 2 * p_i^2
    for (std::int64_t i = 0; i < n; ++i) g[i] = static_cast<float>(i % 7 + 1) * p[i];
    opt.step(p, g, it < 400 ? lr : lr / 10);
  }
  double worst = 0;
  for (float x : p) worst = std::max(worst, std::abs(static_cast<double>(x)));
  CHECK(worst < 0.05);
}

TEST_CASE("clipping rescales to the global norm and reports the norm before", "[optimizer]") {
  std::vector<float> g = {3.0f, 4.0f};
  CHECK_THAT(clip_by_global_norm(g, 1.0), WithinRel(5.0, 1e-9));
  CHECK_THAT(g[0], WithinAbs(0.6, 1e-6));
  CHECK_THAT(g[1], WithinAbs(0.8, 1e-6));
  std::vector<float> small = {0.3f, 0.4f};
  CHECK_THAT(clip_by_global_norm(small, 1.0), WithinRel(0.5, 1e-6));
  CHECK(small[0] == 0.3f);
  std::vector<float> off = {30.0f, 40.0f};
  clip_by_global_norm(off, 0.0);  // 0 = off
  CHECK(off[0] == 30.0f);
  std::vector<float> bad = {1.0f, std::nanf("")};
  CHECK(std::isnan(clip_by_global_norm(bad, 1.0)));
  CHECK(bad[0] == 1.0f);  // not scaled by NaN
}

TEST_CASE("the global norm does not depend on the thread count", "[optimizer]") {
  std::vector<float> g(300001);
  for (std::size_t i = 0; i < g.size(); ++i) g[i] = static_cast<float>(std::cos(i * 0.01)) * 1e-3f;
  set_threads(1);
  const double one = global_norm(g);
  set_threads(2);
  const double two = global_norm(g);
  set_threads(0);
  CHECK(one == two);
}

TEST_CASE("learning-rate schedules", "[optimizer]") {
  LrSchedule s;
  s.lr = 1.0;
  s.kind = LrScheduleKind::cosine;
  s.min_factor = 0.1;
  CHECK_THAT(s.at(0, 0, 0.0), WithinAbs(1.0, 1e-12));
  CHECK_THAT(s.at(0, 0, 0.5), WithinAbs(0.55, 1e-12));
  CHECK_THAT(s.at(0, 0, 1.0), WithinAbs(0.1, 1e-12));
  CHECK_THAT(s.at(0, 0, 7.0), WithinAbs(0.1, 1e-12));  // clamped past the plan
  s.kind = LrScheduleKind::epoch;
  s.decay = 0.5;
  s.decay_after = 1;
  CHECK(s.at(0, 0.5, 0) == 1.0);
  CHECK(s.at(0, 1.9, 0) == 1.0);
  CHECK(s.at(0, 2.0, 0) == 0.5);
  CHECK(s.at(0, 3.5, 0) == 0.25);
  s.kind = LrScheduleKind::constant;
  s.warmup = 4;
  CHECK(s.at(0, 0, 0) == 0.25);
  CHECK(s.at(3, 0, 0) == 1.0);
  CHECK(s.at(10, 0, 0) == 1.0);
  CHECK(parse_lr_schedule("cosine") == LrScheduleKind::cosine);
  CHECK_THROWS_WITH(parse_lr_schedule("linear"), Catch::Contains("linear"));
  CHECK(parse_optimizer("rmsprop") == OptimizerKind::rmsprop);
  CHECK_THROWS_WITH(parse_optimizer("adagrad"), Catch::Contains("adagrad"));
}

TEST_CASE("the weight average follows its formula, spans the recent steps and ignores threads",
          "[optimizer]") {
  const std::vector<float> start = {1.0f, -2.0f, 0.5f};
  WeightAverage avg(0.99, start);
  CHECK(std::vector<float>(avg.values().begin(), avg.values().end()) == start);
  // Early on about the last 11% of the steps; then the given decay.
  CHECK(avg.decay_at(1) == Approx(2.0 / 11));
  CHECK(avg.decay_at(90) == Approx(91.0 / 100));
  CHECK(avg.decay_at(100000) == 0.99);
  std::vector<double> expect(start.begin(), start.end());
  std::vector<float> w = start;
  for (std::int64_t step = 1; step <= 50; ++step) {
    for (std::size_t i = 0; i < w.size(); ++i) w[i] += static_cast<float>(0.1 * (i + 1));
    avg.update(w, step);
    if (step % WeightAverage::kStride) continue;  // it looks at every 4th step only
    const double d = std::pow(std::min(0.99, (1.0 + step) / (10.0 + step)), 4);
    for (std::size_t i = 0; i < w.size(); ++i) expect[i] = d * expect[i] + (1 - d) * w[i];
  }
  for (std::size_t i = 0; i < w.size(); ++i) {
    CHECK_THAT(avg.values()[i], WithinRel(expect[i], 1e-5));
    CHECK(avg.values()[i] < w[i]);  // it lags weights that rise
  }

  std::vector<float> big(200003);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<float>(std::sin(i * 0.3));
  const auto run = [&](int threads) {
    set_threads(threads);
    WeightAverage a(0.999, std::vector<float>(big.size(), 0.0f));
    for (std::int64_t step = 1; step <= 12; ++step) a.update(big, step);
    return std::vector<float>(a.values().begin(), a.values().end());
  };
  const auto one = run(1), two = run(2);
  set_threads(0);
  CHECK(one == two);

  CHECK_THROWS_AS(WeightAverage(1.0, start), error);
  CHECK_THROWS_AS(WeightAverage(0.0, start), error);
  CHECK_THROWS_AS(avg.update(big, 52), error);
}
