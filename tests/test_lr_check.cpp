// The learning-rate check of --lr auto: the detector on its own, then the trainer halving the
// planned rate when the check's loss rises, and leaving an explicit rate and a resumed run alone.
#include <charnn/checkpoint.hpp>
#include <charnn/detail/train_faults.hpp>
#include <charnn/lr_check.hpp>
#include <charnn/train_plan.hpp>
#include <charnn/trainer.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "training_support.hpp"

using namespace charnn;
using charnn::test::builtin_plugins;
using charnn::test::repeating_corpus;
using charnn::test::ScratchDir;
using charnn::test::tiny_config;
using charnn::test::write_file;

TEST_CASE("the detector holds a falling or flat loss and names the step of a rise", "[lr_check]") {
  LossRiseDetector falling;
  for (int i = 1; i <= 10; ++i) CHECK_FALSE(falling.add(i * 10, 4.0 - 0.1 * i));
  CHECK_FALSE(falling.risen());
  CHECK(falling.why().empty());

  LossRiseDetector noisy;  // a plateau that wobbles by less than the margin
  for (int i = 1; i <= 10; ++i) CHECK_FALSE(noisy.add(i * 10, 3.0 + (i % 2 ? 0.2 : 0.0)));

  LossRiseDetector rising;
  CHECK_FALSE(rising.add(10, 3.5));
  CHECK_FALSE(rising.add(20, 3.15));
  CHECK_FALSE(rising.add(30, 3.3));
  CHECK(rising.add(40, 3.78));
  CHECK(rising.add(50, 2.0));  // a rise is final
  CHECK(rising.why() == "the loss at step 40 was 3.78, above 3.15 at its lowest");

  LossRiseDetector blown;
  CHECK_FALSE(blown.add(10, 3.5));
  CHECK(blown.add(20, std::numeric_limits<double>::quiet_NaN()));
  CHECK(blown.why() == "the loss at step 20 was nan");

  LossRiseDetector first;  // a NaN before any finite score
  CHECK(first.add(10, std::numeric_limits<double>::infinity()));
  CHECK(first.why() == "the loss at step 10 was inf");
}

TEST_CASE("the check trains over the warm-up and half as long again, at least 50 steps",
          "[lr_check]") {
  CHECK(lr_check_steps(0) == 50);
  CHECK(lr_check_steps(-5) == 50);
  CHECK(lr_check_steps(60) == 110);
  CHECK(lr_check_steps(100) == 150);
  CHECK(lr_check_steps(400) == 600);
}

namespace {

// A run long enough for the check (1000 planned iterations >= 20 checks of 50 steps), stopped
// after its first iteration: the check happens before it.
TrainConfig checked_config(const std::filesystem::path& corpus, const std::filesystem::path& out) {
  TrainConfig c = tiny_config(corpus, out);
  c.schedule.lr = kAutoLr;
  c.max_iters = 1000;
  return c;
}

// The header of the run's last.ckpt after it stops at iteration `stop`.
std::map<std::string, std::string> run_header(const TrainConfig& c, double rise_above,
                                              std::int64_t stop = 1) {
  detail::TrainFaults faults;
  faults.interrupt_after = stop;
  faults.lr_check_rise_above = rise_above;
  detail::train_with_faults(c, builtin_plugins(), TrainHooks{}, faults);
  const std::filesystem::path run = c.resume.empty() ? c.out : c.resume;
  return read_checkpoint(run / "last.ckpt").header;
}

}  // namespace

TEST_CASE("--lr auto halves the planned rate while the check's loss rises", "[lr_check][trainer]") {
  ScratchDir dir("lr_check");
  write_file(dir / "corpus.txt", repeating_corpus(4000));

  SECTION("a rate that holds is kept, and the plan says so") {
    const auto h = run_header(checked_config(dir / "corpus.txt", dir / "held"), 0);
    CHECK(h.at("config.lr") == "0.02");  // a vocabulary of a few dozen units
    CHECK_THAT(h.at("config.plan"), Catch::Contains("lr check (50 steps, ") &&
                                        Catch::Contains("): 0.02 held"));
  }
  SECTION("rates that rise are halved until one holds") {
    const auto h = run_header(checked_config(dir / "corpus.txt", dir / "halved"), 6e-3);
    CHECK(h.at("config.lr") == "0.005");
    const std::string plan = h.at("config.plan");
    CHECK_THAT(plan, Catch::Contains("at 0.02 the loss at step 20 was ") &&
                         Catch::Contains("; at 0.01 the loss at step 20 was ") &&
                         Catch::Contains(", so 0.005"));
  }
  SECTION("after three halvings the lowest rate tried is kept") {
    const auto h = run_header(checked_config(dir / "corpus.txt", dir / "floor"), 1e-9);
    CHECK(h.at("config.lr") == "0.0025");
    CHECK_THAT(h.at("config.plan"), Catch::Contains("at 0.0025 the loss") &&
                                        Catch::Contains(", so 0.0025"));
  }
  SECTION("an explicit rate is not checked") {
    TrainConfig c = checked_config(dir / "corpus.txt", dir / "explicit");
    c.schedule.lr = 0.02;
    const auto h = run_header(c, 1e-9);
    CHECK(h.at("config.lr") == "0.02");
    CHECK_THAT(h.at("config.plan"), !Catch::Contains("lr check"));
  }
  SECTION("a short run is not checked: the check would cost more than a twentieth of it") {
    TrainConfig c = checked_config(dir / "corpus.txt", dir / "short");
    c.max_iters = 999;
    const auto h = run_header(c, 1e-9);
    CHECK(h.at("config.lr") == "0.02");
    CHECK_THAT(h.at("config.plan"), !Catch::Contains("lr check"));
  }
  SECTION("a resumed run keeps the checked rate without checking again") {
    const TrainConfig c = checked_config(dir / "corpus.txt", dir / "resumed");
    const auto first = run_header(c, 6e-3);
    REQUIRE(first.at("config.lr") == "0.005");
    TrainConfig again;
    again.resume = c.out;
    again.threads = 1;
    again.progress = TrainConfig::ProgressMode::quiet;
    const auto second = run_header(again, 1e-9, 2);  // would halve to 0.0025 if it checked
    CHECK(second.at("config.lr") == "0.005");
    CHECK(second.at("config.plan") == first.at("config.plan"));
  }
}
