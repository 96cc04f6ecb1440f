// The spike guard (trainer_impl.hpp): a rise of the fixed batch's loss sends the run back to the
// best model at half the rate; a resumed run does the same as an uninterrupted one; before the
// first best model it only says so; --rollback 0 turns it off.
#include <charnn/checkpoint.hpp>
#include <charnn/detail/train_faults.hpp>
#include <charnn/trainer.hpp>

#include <catch2/catch.hpp>

#include <string>

#include "training_support.hpp"

using namespace charnn;
using charnn::test::repeating_corpus;
using charnn::test::resume_of;
using charnn::test::ScratchDir;
using charnn::test::tiny_config;
using charnn::test::write_file;

namespace {

// Validations every 100 iterations, none of them sending the run back on their own; the guard
// scores at 50, 150, ... (not at a validation's iteration).
TrainConfig guarded_config(const std::filesystem::path& corpus, const std::filesystem::path& out) {
  TrainConfig c = tiny_config(corpus, out);
  c.schedule.lr = 3e-3;
  c.max_iters = 200;
  c.eval_every = 100;
  c.patience = 0;
  c.rollback = 1000;
  c.progress = TrainConfig::ProgressMode::plain;  // the messages, into the hooks' log
  return c;
}

using Ran = charnn::test::FaultyRun;

Ran run(const TrainConfig& c, std::int64_t spike_at, std::int64_t interrupt_after = 0) {
  detail::TrainFaults faults;
  faults.spike_at = spike_at;
  faults.interrupt_after = interrupt_after;
  return charnn::test::run_with_faults(c, faults);
}

}  // namespace

TEST_CASE("a loss spike sends the run back to its best model at half the rate",
          "[trainer][spike]") {
  ScratchDir dir("spike");
  write_file(dir / "corpus.txt", repeating_corpus(3000));

  // The weights at iteration 100, the best model (validated every 100) before the spike at 150.
  const Ran healthy = run(guarded_config(dir / "corpus.txt", dir / "at100"), 0, 100);
  REQUIRE(healthy.result.stop_reason == "interrupted");
  const CheckpointData at100 = read_checkpoint(dir / "at100" / "last.ckpt");
  CHECK(at100.get_double("state.lr_scale") == 1.0);
  REQUIRE(at100.get_int("state.best_iteration") == 100);

  // The same run with a spike at 150, stopped just after it: back to the best model's weights,
  // moments and average, at half the rate, while the iteration and the data go on.
  const Ran spiked = run(guarded_config(dir / "corpus.txt", dir / "spiked"), 150, 150);
  INFO(spiked.log);
  CHECK_THAT(spiked.log,
             Catch::Contains("iter 150: the loss on the first training batch rose to") &&
                 Catch::Contains("back to the best model (iteration 100), learning rate "
                                 "x0.5 from now on (--rollback)"));
  const CheckpointData at150 = read_checkpoint(dir / "spiked" / "last.ckpt");
  CHECK(at150.get_int("state.iteration") == 150);
  CHECK(at150.get_double("state.lr_scale") == 0.5);
  CHECK(at150.get_int("state.spikes") == 1);
  CHECK(at150.get_int("state.rollbacks") == 1);
  CHECK(at150.live == at100.live);  // the trained weights (PARM holds the chosen model)
  CHECK(at150.optimizer == at100.optimizer);
  CHECK(at150.average == at100.average);
  CHECK(at150.get_int("state.optimizer_steps") == at100.get_int("state.optimizer_steps"));
  for (std::int64_t it = 1; it <= 150; ++it) {
    INFO("iteration " << it);
    if (it <= 100) REQUIRE(spiked.losses.at(it) == healthy.losses.at(it));
  }

  // Without a spike the guard only watches: the healthy run's losses are a plain run's.
  TrainConfig off = guarded_config(dir / "corpus.txt", dir / "off");
  off.rollback = 0;
  const Ran unguarded = run(off, 150, 100);
  for (std::int64_t it = 1; it <= 100; ++it)
    REQUIRE(unguarded.losses.at(it) == healthy.losses.at(it));
  // --rollback 0 turns it off.
  off.out = dir / "off-spike";
  const Ran ignored = run(off, 150, 150);
  CHECK(ignored.log.find("rose to") == std::string::npos);
  CHECK(read_checkpoint(dir / "off-spike" / "last.ckpt").get_double("state.lr_scale") == 1.0);
}

TEST_CASE("a run resumed before a spike goes back exactly as the uninterrupted run does",
          "[trainer][spike]") {
  ScratchDir dir("spike-resume");
  write_file(dir / "corpus.txt", repeating_corpus(3000));
  const Ran whole = run(guarded_config(dir / "corpus.txt", dir / "whole"), 150);
  REQUIRE(whole.result.stop_reason == "max_iters");
  CHECK_THAT(whole.log, Catch::Contains("rose to"));

  // Interrupted at a validation, resumed with the same spike.
  Ran parts = run(guarded_config(dir / "corpus.txt", dir / "parts"), 150, 100);
  REQUIRE(parts.result.stop_reason == "interrupted");
  detail::TrainFaults faults;
  faults.spike_at = 150;
  TrainConfig again = resume_of(dir / "parts");
  again.progress = TrainConfig::ProgressMode::plain;
  const Ran resumed = charnn::test::run_with_faults(again, faults);
  CHECK(resumed.result.stop_reason == "max_iters");
  CHECK_THAT(resumed.log, Catch::Contains("back to the best model (iteration 100)"));
  parts.losses.insert(resumed.losses.begin(), resumed.losses.end());
  REQUIRE(parts.losses.size() == 200);
  for (std::int64_t it = 1; it <= 200; ++it) {
    INFO("iteration " << it);
    REQUIRE(parts.losses.at(it) == whole.losses.at(it));
  }
  const CheckpointData a = read_checkpoint(dir / "whole" / "last.ckpt");
  const CheckpointData b = read_checkpoint(dir / "parts" / "last.ckpt");
  CHECK(a.params == b.params);
  CHECK(a.optimizer == b.optimizer);
  CHECK(a.get_double("state.spike_lowest") == b.get_double("state.spike_lowest"));
}

TEST_CASE("a spike before the first validation is reported, and training goes on",
          "[trainer][spike]") {
  ScratchDir dir("spike-early");
  write_file(dir / "corpus.txt", repeating_corpus(3000));
  TrainConfig c = guarded_config(dir / "corpus.txt", dir / "run");
  c.eval_every = 300;  // the first score (50) sets the lowest; the spike comes before a best
  const Ran early = run(c, 100, 110);
  INFO(early.log);
  CHECK_THAT(early.log, Catch::Contains("iter 100: the loss on the first training batch rose to") &&
                            Catch::Contains("no validation has kept a best model to go back to"));
  const CheckpointData last = read_checkpoint(dir / "run" / "last.ckpt");
  CHECK(last.get_double("state.lr_scale") == 1.0);
  CHECK(last.get_int("state.spikes") == 0);
}
