// --rollback through the library (charnn::train): going back to the best model at half the rate
// (and a resumed run doing the same) once a pass over the training text is done, ending a run on
// it when rollbacks stop finding better ones, and ending on it when the run stops on weights that
// validated worse. The spike guard's part is
// test_spike_guard.cpp.
#include <charnn/checkpoint.hpp>
#include <charnn/detail/train_faults.hpp>
#include <charnn/trainer.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <map>
#include <sstream>

#include "training_support.hpp"

using namespace charnn;
using charnn::test::builtin_plugins;
using charnn::test::read_file;
using charnn::test::resume_of;
using charnn::test::ScratchDir;
using charnn::test::tiny_config;
using charnn::test::write_file;

namespace {

// 4,000 letters of 12, drawn at random, in lines of 60: a text nothing can be learnt from.
std::string random_letters(std::uint32_t seed) {
  std::string text;
  std::uint32_t x = seed;
  for (int i = 0; i < 4000; ++i) {
    x = x * 1664525u + 1013904223u;
    text += static_cast<char>('a' + (x >> 24) % 12);
    if (i % 60 == 59) text += '\n';
  }
  return text;
}

// A run on random letters (written to dir/corpus.txt) that validates every 5 iterations at a
// constant rate and rolls back after each validation without improvement. A constant rate: a
// shorter run is then a prefix of the longer one (cosine follows max_iters).
TrainConfig rollback_config(const std::filesystem::path& dir, std::uint32_t seed,
                            const std::filesystem::path& out, std::int64_t max_iters) {
  write_file(dir / "corpus.txt", random_letters(seed));
  TrainConfig c = tiny_config(dir / "corpus.txt", out);
  c.split = {0.3, 0.7, 0};  // a pass every 26 iterations: no rollback comes before the first
  c.hidden = 32;
  c.schedule.lr = 3e-2;
  c.schedule.kind = LrScheduleKind::constant;
  c.max_iters = max_iters;
  c.eval_every = 5;
  c.rollback = 1;
  c.progress = TrainConfig::ProgressMode::plain;  // the rollback's messages
  return c;
}

}  // namespace

TEST_CASE("--rollback returns to the best model with half the rate, and a resumed run does too",
          "[trainer]") {
  ScratchDir dir("rollback");
  // Random letters: nothing learnt from the training part carries to the validation part, so
  // validation soon stops improving and the run rolls back.
  TrainConfig c = rollback_config(dir.path(), 7, dir / "whole", 60);
  std::map<std::int64_t, double> whole, parts;
  std::ostringstream log;
  TrainHooks record;
  record.log = &log;
  record.on_step = [&](std::int64_t it, double loss) { whole[it] = loss; };
  const TrainResult a = train(c, builtin_plugins(), record);
  c.progress = TrainConfig::ProgressMode::quiet;  // the other runs print nothing
  const CheckpointData ca = read_checkpoint(dir / "whole" / "last.ckpt");
  const std::int64_t rollbacks = ca.get_int("state.rollbacks");
  INFO(log.str());
  REQUIRE(rollbacks >= 1);
  CHECK(ca.get_double("state.lr_scale") == std::ldexp(1.0, -static_cast<int>(rollbacks)));
  CHECK_THAT(log.str(), Catch::Contains("back to the best model"));

  // The rate in metrics.csv is the schedule's times the scale: after the first rollback it is
  // half what the same iteration had without one.
  TrainConfig plain = c;
  plain.out = dir / "plain";
  plain.rollback = 0;
  train(plain, builtin_plugins());
  const auto lr_at = [&](const std::filesystem::path& run, std::int64_t it) {
    std::istringstream csv(read_file(run / "metrics.csv"));
    std::string line;
    while (std::getline(csv, line))
      if (line.rfind(std::to_string(it) + ",", 0) == 0) {
        std::vector<std::string> cols;
        std::stringstream cells(line);
        for (std::string cell; std::getline(cells, cell, ',');) cols.push_back(cell);
        return std::stod(cols[4]);
      }
    return -1.0;
  };
  // The run may end before 60 on the best model, when rollbacks stop finding better ones.
  const std::int64_t end = a.iterations;
  REQUIRE((end == 60 || a.stop_reason == "rollbacks"));
  // (The row of the last iteration shows the rate its step used, before a rollback at its
  // validation. metrics.csv rounds rates to 3 digits.)
  const double halvings = std::log2(lr_at(dir / "plain", end) / lr_at(dir / "whole", end));
  CHECK(halvings == Approx(std::round(halvings)).margin(0.01));
  CHECK(halvings >= 1);
  CHECK(halvings <= static_cast<double>(rollbacks));

  // Interrupted after the first rollback and resumed: the same losses, exactly.
  std::int64_t first_rollback = 0;
  for (std::int64_t it = 5; it <= end && first_rollback == 0; it += 5) {
    c.out = dir / ("probe-" + std::to_string(it));
    c.max_iters = it;
    train(c, builtin_plugins());
    if (read_checkpoint(c.out / "last.ckpt").get_int("state.rollbacks") > 0) first_rollback = it;
  }
  REQUIRE(first_rollback > 0);
  // At that moment the model is best.ckpt's, moments included.
  const CheckpointData at_best = read_checkpoint(c.out / "best.ckpt");
  const CheckpointData rolled = read_checkpoint(c.out / "last.ckpt");
  CHECK(rolled.params == at_best.params);
  CHECK(rolled.optimizer == at_best.optimizer);

  c.max_iters = 60;
  c.out = dir / "parts";
  TrainHooks first;
  first.on_step = [&](std::int64_t it, double loss) { parts[it] = loss; };
  charnn::detail::TrainFaults interrupt;
  interrupt.interrupt_after = first_rollback + 2;
  charnn::detail::train_with_faults(c, builtin_plugins(), first, interrupt);
  TrainConfig again = resume_of(dir / "parts");
  TrainHooks second;
  second.on_step = [&](std::int64_t it, double loss) { parts[it] = loss; };
  const TrainResult b = train(again, builtin_plugins(), second);
  REQUIRE(parts.size() == static_cast<std::size_t>(end));
  for (std::int64_t it = 1; it <= end; ++it) {
    INFO("iteration " << it);
    REQUIRE(parts[it] == whole[it]);
  }
  CHECK(b.valid_loss == a.valid_loss);
  CHECK(b.stop_reason == a.stop_reason);
}

TEST_CASE("--rollback waits for the first pass over the training text", "[trainer]") {
  ScratchDir dir("rollback-first-pass");
  // 90% of the random letters train: a pass every 76 iterations. Validation stops improving
  // long before, but every batch so far was new text; past the pass the run goes back.
  TrainConfig c = rollback_config(dir.path(), 7, dir / "within", 70);
  c.split = {0.9, 0.1, 0};
  std::ostringstream log;
  TrainHooks hooks;
  hooks.log = &log;
  const TrainResult within = train(c, builtin_plugins(), hooks);
  INFO(log.str());
  const CheckpointData last = read_checkpoint(c.out / "last.ckpt");
  REQUIRE(within.iterations == 70);
  CHECK(within.best_valid_loss < within.valid_loss);  // it did get worse
  CHECK(last.get_int("state.rollbacks") == 0);
  CHECK(last.params != read_checkpoint(c.out / "best.ckpt").params);  // the end stays too
  CHECK_THAT(log.str(), !Catch::Contains("without improvement: back to the best model") &&
                            !Catch::Contains("the run ends on the best model"));

  c.out = dir / "past";
  c.max_iters = 200;
  train(c, builtin_plugins());
  CHECK(read_checkpoint(c.out / "last.ckpt").get_int("state.rollbacks") >= 1);
}

TEST_CASE("--rollback ends a run on the best model once its rollbacks stop finding better ones",
          "[trainer]") {
  ScratchDir dir("rollback-end");
  const TrainConfig c = rollback_config(dir.path(), 11, dir / "run", 400);
  std::ostringstream log;
  TrainHooks hooks;
  hooks.log = &log;
  const TrainResult r = train(c, builtin_plugins(), hooks);
  INFO(log.str());
  REQUIRE(r.stop_reason == "rollbacks");
  CHECK(r.iterations < 400);
  CHECK_THAT(log.str(), Catch::Contains("rollbacks that found no better model: the run ends on "
                                        "the best model") &&
                            Catch::Contains("ended on it (--rollback)"));
  // It ends on best.ckpt's model: the same weights and moments, and the same validation figure
  // (the last row, scored after going back).
  const CheckpointData best = read_checkpoint(dir / "run" / "best.ckpt");
  const CheckpointData last = read_checkpoint(dir / "run" / "last.ckpt");
  CHECK(last.params == best.params);
  CHECK(last.optimizer == best.optimizer);
  CHECK(r.valid_loss == r.best_valid_loss);
  // Two rollbacks found nothing; the third point ended the run (a loss spike may add more).
  CHECK(last.get_int("state.rollbacks") - best.get_int("state.rollbacks") >=
        charnn::kFruitlessRollbacks + 1);
  // Resumed, a finished run stays finished.
  const TrainResult again = train(resume_of(dir / "run"), builtin_plugins());
  CHECK(again.iterations == r.iterations);
  CHECK(again.stop_reason == "rollbacks");
}

TEST_CASE("--rollback ends a run that stops on worse weights on its best model", "[trainer]") {
  ScratchDir dir("rollback-stop");
  // 62: the run's own last validation; 60: a periodic one at the stop. No rollback before the
  // end (the third validation without improvement would be the first), so the last weights are
  // the ones the run trained.
  for (const std::int64_t iterations : {62, 60}) {
    DYNAMIC_SECTION("stopping at " << iterations) {
      TrainConfig c =
          rollback_config(dir.path(), 7, dir / ("on-" + std::to_string(iterations)), iterations);
      c.rollback = 1000;
      std::ostringstream log;
      TrainHooks hooks;
      hooks.log = &log;
      const TrainResult r = train(c, builtin_plugins(), hooks);
      INFO(log.str());
      REQUIRE(r.iterations == iterations);
      const CheckpointData best = read_checkpoint(c.out / "best.ckpt");
      const CheckpointData last = read_checkpoint(c.out / "last.ckpt");
      REQUIRE(best.get_int("state.best_iteration") < iterations);
      CHECK_THAT(log.str(), Catch::Contains("the run ends on the best model (iteration " +
                                            std::to_string(best.get_int("state.best_iteration"))));
      CHECK(last.params == best.params);
      CHECK(last.optimizer == best.optimizer);
      CHECK(r.valid_loss == r.best_valid_loss);  // the whole split is the slice here
      CHECK(last.get_int("state.rollbacks") == best.get_int("state.rollbacks") + 1);
      CHECK(last.get_double("state.lr_scale") == 0.5 * best.get_double("state.lr_scale"));

      // Without --rollback the run ends on the weights it trained last.
      c.rollback = 0;
      c.out = dir / ("off-" + std::to_string(iterations));
      const TrainResult off = train(c, builtin_plugins());
      CHECK(off.valid_loss > off.best_valid_loss);
      CHECK(read_checkpoint(c.out / "last.ckpt").params !=
            read_checkpoint(c.out / "best.ckpt").params);

      // Resumed, the finished run stays where it ended: no second going back, and no second
      // validation in metrics.csv; it reports the same end.
      const auto run = dir / ("on-" + std::to_string(iterations));
      CHECK(last.get_int("state.finished") == 1);
      const std::string metrics = read_file(run / "metrics.csv");
      std::ostringstream again_log;
      TrainHooks again_hooks;
      again_hooks.log = &again_log;
      TrainConfig resumed = resume_of(run);
      resumed.progress = TrainConfig::ProgressMode::plain;
      const TrainResult again = train(resumed, builtin_plugins(), again_hooks);
      CHECK(again.iterations == r.iterations);
      CHECK(again.valid_loss == r.valid_loss);
      CHECK(again.best_valid_loss == r.best_valid_loss);
      CHECK(read_file(run / "metrics.csv") == metrics);
      CHECK_THAT(again_log.str(), Catch::Contains("done: ") &&
                                      !Catch::Contains("validation on the whole split") &&
                                      !Catch::Contains("the run ends on the best model"));
      const CheckpointData after = read_checkpoint(run / "last.ckpt");
      CHECK(after.params == last.params);
      CHECK(after.get_int("state.rollbacks") == last.get_int("state.rollbacks"));
    }
  }
}
