// Gradient bursts (gradient_bursts.hpp): a step whose gradient norm is far above its running
// level is skipped, weights, moments and average untouched; a lasting rise stops being skipped;
// a resumed run skips as the uninterrupted one; --skip-bursts 0 turns it off.
#include <charnn/checkpoint.hpp>
#include <charnn/detail/train_faults.hpp>
#include <charnn/gradient_bursts.hpp>
#include <charnn/trainer.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <string>

#include "training_support.hpp"

using namespace charnn;
using charnn::test::repeating_corpus;
using charnn::test::resume_of;
using charnn::test::ScratchDir;
using charnn::test::tiny_config;
using charnn::test::write_file;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Feeds `norm` for `steps` steps from step `first`; returns how many were bursts.
int feed(double& level, double norm, int steps, std::int64_t first = GradientBursts::kWarmup) {
  int bursts = 0;
  for (int i = 0; i < steps; ++i)
    bursts += GradientBursts::step(level, norm, 10, first + i) ? 1 : 0;
  return bursts;
}

}  // namespace

TEST_CASE("a gradient norm far above its running level is a burst", "[bursts]") {
  double level = kNaN;
  CHECK(feed(level, 0.6, 300, 0) == 0);
  CHECK(std::exp(level) == Approx(0.6));
  // Jitter around the level, even 5x, is not a burst; 20x is.
  CHECK_FALSE(GradientBursts::step(level, 3.0, 10, 300));
  CHECK(GradientBursts::step(level, 12.0, 10, 301));
  // A passage of 20 bursts at 200x lifts the level by at most 2% of log 10 per step.
  const double before = level;
  CHECK(feed(level, 120.0, 20) == 20);
  CHECK(level - before < 20 * GradientBursts::kRate * std::log(10.0) + 1e-12);
  CHECK(std::exp(level) < 0.6 * 3);
  // Back to the usual norms, nothing is skipped, and the level settles back.
  CHECK(feed(level, 0.6, 300) == 0);
  CHECK(std::exp(level) == Approx(0.6).epsilon(0.01));
}

TEST_CASE("a lasting rise of the gradient norm stops being skipped", "[bursts]") {
  double level = kNaN;
  feed(level, 0.5, 300, 0);
  // 100 times higher for good: skipped for a while, then the level has caught up.
  const int skipped = feed(level, 50.0, 200);
  CHECK(skipped > 10);
  CHECK(skipped < 100);
  CHECK(feed(level, 50.0, 100) == 0);
}

TEST_CASE("no step is a burst during the warm-up", "[bursts]") {
  double level = kNaN;
  CHECK_FALSE(GradientBursts::step(level, 1.0, 10, 0));
  CHECK(std::exp(level) == Approx(1.0));
  CHECK(feed(level, 1000.0, static_cast<int>(GradientBursts::kWarmup) - 1, 1) == 0);
}

namespace {

using Ran = charnn::test::FaultyRun;

Ran run(const TrainConfig& c, std::int64_t burst_at, std::int64_t interrupt_after = 0) {
  detail::TrainFaults faults;
  faults.burst_at = burst_at;
  faults.interrupt_after = interrupt_after;
  return charnn::test::run_with_faults(c, faults);
}

// 300 iterations with the average on, so that a skip must leave it alone too.
TrainConfig burst_config(const std::filesystem::path& corpus, const std::filesystem::path& out) {
  TrainConfig c = tiny_config(corpus, out);
  c.schedule.lr = 3e-3;
  c.max_iters = 300;
  c.eval_every = 100;
  c.log_every = 50;
  c.rollback = 0;
  c.ema = 0.99;
  c.progress = TrainConfig::ProgressMode::plain;
  return c;
}

}  // namespace

TEST_CASE("a burst's step is skipped: weights, moments and average stay as they were",
          "[trainer][bursts]") {
  ScratchDir dir("bursts");
  write_file(dir / "corpus.txt", repeating_corpus(3000));
  const auto corpus = dir / "corpus.txt";

  const Ran before = run(burst_config(corpus, dir / "before"), 0, 249);
  const CheckpointData at249 = read_checkpoint(dir / "before" / "last.ckpt");
  CHECK(at249.get_int("state.bursts") == 0);

  const Ran burst = run(burst_config(corpus, dir / "burst"), 250, 250);
  INFO(burst.log);
  const CheckpointData at250 = read_checkpoint(dir / "burst" / "last.ckpt");
  CHECK(at250.get_int("state.iteration") == 250);
  CHECK(at250.get_int("state.bursts") == 1);
  CHECK(at250.live == at249.live);
  CHECK(at250.optimizer == at249.optimizer);
  CHECK(at250.average == at249.average);
  CHECK(at250.get_int("state.optimizer_steps") == at249.get_int("state.optimizer_steps"));
  CHECK(at250.get_int("state.segment") != at249.get_int("state.segment"));  // the data goes on
  CHECK_THAT(burst.log, Catch::Contains("iter 250: skipped 1 step since the last report") &&
                            Catch::Contains("(--skip-bursts)"));

  // --skip-bursts 0: the same burst is clipped and taken.
  TrainConfig off = burst_config(corpus, dir / "off");
  off.skip_bursts = 0;
  const Ran taken = run(off, 250, 250);
  const CheckpointData taken250 = read_checkpoint(dir / "off" / "last.ckpt");
  CHECK(taken250.live != at249.live);
  CHECK(taken250.get_int("state.bursts") == 0);
  CHECK(taken.log.find("skipped") == std::string::npos);
  // Without a burst, skipping changes nothing: the losses of the runs agree up to it.
  for (std::int64_t it = 1; it <= 249; ++it) REQUIRE(taken.losses.at(it) == before.losses.at(it));
}

TEST_CASE("a run resumed before a burst skips it as the uninterrupted run does",
          "[trainer][bursts]") {
  ScratchDir dir("bursts-resume");
  write_file(dir / "corpus.txt", repeating_corpus(3000));
  const auto corpus = dir / "corpus.txt";
  const Ran whole = run(burst_config(corpus, dir / "whole"), 250);
  REQUIRE(whole.result.stop_reason == "max_iters");

  Ran parts = run(burst_config(corpus, dir / "parts"), 250, 230);
  REQUIRE(parts.result.stop_reason == "interrupted");
  detail::TrainFaults faults;
  faults.burst_at = 250;
  TrainConfig again = resume_of(dir / "parts");
  again.progress = TrainConfig::ProgressMode::plain;
  const Ran resumed = charnn::test::run_with_faults(again, faults);
  CHECK(resumed.result.stop_reason == "max_iters");
  parts.losses.insert(resumed.losses.begin(), resumed.losses.end());
  for (std::int64_t it = 1; it <= 300; ++it) {
    INFO("iteration " << it);
    REQUIRE(parts.losses.at(it) == whole.losses.at(it));
  }
  const CheckpointData a = read_checkpoint(dir / "whole" / "last.ckpt");
  const CheckpointData b = read_checkpoint(dir / "parts" / "last.ckpt");
  CHECK(a.params == b.params);
  CHECK(a.get_int("state.bursts") == 1);
  CHECK(b.get_int("state.bursts") == 1);
  CHECK(a.get_double("state.grad_log_level") == b.get_double("state.grad_log_level"));
}
