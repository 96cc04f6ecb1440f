// Resuming through the library (charnn::train): an interrupted run continues bit for bit, the
// settings planned once stay, what defines a run cannot change, and --more extends a finished
// run. The weight average's and the rollbacks' own resume cases are in test_trainer.cpp.
#include <charnn/checkpoint.hpp>
#include <charnn/detail/train_faults.hpp>
#include <charnn/error.hpp>
#include <charnn/metrics_file.hpp>
#include <charnn/train_plan.hpp>
#include <charnn/trainer.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <map>
#include <sstream>
#include <string>

#include "training_support.hpp"

using namespace charnn;
using charnn::test::builtin_plugins;
using charnn::test::count_lines;
using charnn::test::read_file;
using charnn::test::repeating_corpus;
using charnn::test::resume_of;
using charnn::test::ScratchDir;
using charnn::test::tiny_config;
using charnn::test::write_file;

TEST_CASE("an interrupted and resumed run gives the same losses as an uninterrupted one",
          "[trainer]") {
  // 27 iterations per epoch, so interrupting at 27 resumes exactly at an epoch boundary.
  const std::int64_t stop_at = GENERATE(17, 27);
  const DropoutMask mask = GENERATE(DropoutMask::step, DropoutMask::segment);
  const double weight_drop = GENERATE(0.0, 0.3);
  if (weight_drop > 0 && mask == DropoutMask::segment) return;  // enough with one mask kind
  CAPTURE(stop_at, to_string(mask), weight_drop);
  ScratchDir dir("resume");
  write_file(dir / "corpus.txt", repeating_corpus(1300) + "Some different text at the end!\n");
  TrainConfig c = tiny_config(dir / "corpus.txt", dir / "whole");
  c.dropout = 0.1f;  // dropout masks must follow the iteration, not the session
  c.dropout_mask = mask;
  c.weight_drop = weight_drop;  // so must weight drop's
  c.max_iters = 40;
  c.eval_every = 10;
  c.patience = 0;

  std::map<std::int64_t, double> whole, parts;
  TrainHooks record;
  record.on_step = [&](std::int64_t it, double loss) { whole[it] = loss; };
  const TrainResult a = train(c, builtin_plugins(), record);
  REQUIRE(whole.size() == 40);

  c.out = dir / "parts";
  TrainHooks first;
  first.on_step = [&](std::int64_t it, double loss) { parts[it] = loss; };
  charnn::detail::TrainFaults interrupt;
  interrupt.interrupt_after = stop_at;
  const TrainResult b1 = charnn::detail::train_with_faults(c, builtin_plugins(), first, interrupt);
  CHECK(b1.stop_reason == "interrupted");
  CHECK(b1.iterations == stop_at);

  TrainConfig again = resume_of(dir / "parts");
  const CheckpointData kept = read_checkpoint(dir / "parts" / "last.ckpt");
  CHECK(kept.get_string("config.dropout_mask") == to_string(mask));  // as the model's
  CHECK(kept.model.dropout_mask == mask);
  CHECK(kept.model.weight_drop == static_cast<float>(weight_drop));
  CHECK(kept.get_double("config.weight_drop") == weight_drop);
  TrainHooks second;
  second.on_step = [&](std::int64_t it, double loss) { parts[it] = loss; };
  const TrainResult b2 = train(again, builtin_plugins(), second);
  CHECK(b2.stop_reason == "max_iters");
  REQUIRE(parts.size() == 40);
  for (std::int64_t it = 1; it <= 40; ++it) {
    INFO("iteration " << it);
    REQUIRE(parts[it] == whole[it]);  // exactly, not approximately
  }
  CHECK(b2.best_valid_loss == a.best_valid_loss);
  CHECK(b2.valid_loss == a.valid_loss);
  const CheckpointData ca = read_checkpoint(dir / "whole" / "last.ckpt");
  const CheckpointData cb = read_checkpoint(dir / "parts" / "last.ckpt");
  CHECK(ca.params == cb.params);
  CHECK(ca.optimizer == cb.optimizer);
  REQUIRE(!ca.average.empty());  // the default --ema: the average continues exactly too
  CHECK(ca.average == cb.average);
  CHECK(ca.live == cb.live);
  // The metrics file reads as one run: same rows apart from timings.
  CHECK(count_lines(read_file(dir / "parts" / "metrics.csv")) ==
        count_lines(read_file(dir / "whole" / "metrics.csv")));
  // The curves of the resumed run hold the first session's rows too (read back once).
  const auto circles = [](const std::string& s) {
    std::size_t n = 0;
    for (auto p = s.find("<circle"); p != std::string::npos; p = s.find("<circle", p + 1)) ++n;
    return n;
  };
  CHECK(circles(read_file(dir / "parts" / "curves.svg")) ==
        circles(read_file(dir / "whole" / "curves.svg")));
}

TEST_CASE("settings left on auto are planned once, recorded, and kept by a resumed run",
          "[trainer][plan]") {
  ScratchDir dir("plan");
  write_file(dir / "corpus.txt", repeating_corpus(2000));
  TrainConfig c = tiny_config(dir / "corpus.txt", dir / "whole");
  c.hidden = kAuto;
  c.dropout = kAutoDropout;
  c.eval_every = kAuto;
  c.eval_units = kAuto;
  c.schedule.lr = kAutoLr;
  c.schedule.warmup = kAuto;
  c.max_iters = 0;
  c.epochs = 4;  // a few thousand units: the narrowest model, seen 4 times: dropout 0.3,
                 // less the weight decay's 0.1

  std::map<std::int64_t, double> whole, parts;
  TrainHooks record;
  record.on_step = [&](std::int64_t it, double loss) { whole[it] = loss; };
  train(c, builtin_plugins(), record);

  const CheckpointData ca = read_checkpoint(dir / "whole" / "last.ckpt");
  CHECK(ca.header.at("config.hidden") == std::to_string(plan_widths().back()));
  CHECK(ca.header.at("config.dropout") == "0.2");
  CHECK(ca.header.at("config.lr") == "0.02");  // a vocabulary of a few dozen units
  CHECK(std::stoll(ca.header.at("config.eval_every")) >= 10);
  CHECK(ca.header.at("config.eval_units") == "0");  // the split is smaller than any slice
  CHECK_THAT(ca.header.at("config.plan"), Catch::Contains("4.0 passes"));
  CHECK(ca.header.at("config.warmup") == "100");  // a vocabulary of a few dozen units
  CHECK_THAT(ca.header.at("config.plan"),
             Catch::Contains(", warmup 100 (") && Catch::EndsWith("-unit vocabulary)"));
  const std::string json = read_file(dir / "whole" / "config.json");
  CHECK_THAT(json, Catch::Contains("\"hidden\": " + std::to_string(plan_widths().back())));
  CHECK_THAT(json, Catch::Contains("\"dropout\": 0.2"));
  CHECK_THAT(json, Catch::Contains("\"plan\": \""));

  c.out = dir / "parts";
  TrainHooks first;
  first.on_step = [&](std::int64_t it, double loss) { parts[it] = loss; };
  charnn::detail::TrainFaults interrupt;
  interrupt.interrupt_after = 50;
  charnn::detail::train_with_faults(c, builtin_plugins(), first, interrupt);
  TrainConfig again = resume_of(dir / "parts");
  TrainHooks second;
  second.on_step = [&](std::int64_t it, double loss) { parts[it] = loss; };
  train(again, builtin_plugins(), second);
  REQUIRE(parts.size() == whole.size());
  for (const auto& [it, loss] : whole) {
    INFO("iteration " << it);
    REQUIRE(parts[it] == loss);
  }
  const CheckpointData cb = read_checkpoint(dir / "parts" / "last.ckpt");
  CHECK(cb.header.at("config.plan") == ca.header.at("config.plan"));
  CHECK(ca.params == cb.params);
}

TEST_CASE("resuming refuses to change what defines the run", "[trainer]") {
  ScratchDir dir("resume-refuse");
  write_file(dir / "corpus.txt", repeating_corpus(2000));
  TrainConfig c = tiny_config(dir / "corpus.txt", dir / "run");
  c.max_iters = 3;
  train(c, builtin_plugins());
  TrainConfig again = c;
  again.out.clear();
  again.resume = dir / "run";
  again.hidden = 64;
  again.resume_overrides = {"hidden"};
  CHECK_THROWS_WITH(train(again, builtin_plugins()), Catch::Contains("--hidden cannot change"));
  // A new run into the same directory is refused too: it would mix two runs.
  try {
    train(c, builtin_plugins());
    FAIL("a second run into the same directory was accepted");
  } catch (const charnn::error& e) {
    CHECK_THAT(std::string(e.what()), Catch::Contains("already holds a run"));
    CHECK_THAT(e.hint(), Catch::Contains("--resume"));
  }
  // Extending the budget is allowed.
  again.hidden = 16;
  again.max_iters = 6;
  again.resume_overrides = {"max_iters"};
  CHECK(train(again, builtin_plugins()).iterations == 6);
}

TEST_CASE("--more trains a finished run longer at the rate its schedule ended on", "[trainer]") {
  ScratchDir dir("more");
  write_file(dir / "corpus.txt", repeating_corpus(2000));
  TrainConfig c = tiny_config(dir / "corpus.txt", dir / "run");
  c.max_iters = 20;
  c.log_every = 1;
  c.rollback = 0;  // the rate must stay where the schedule ended, not halve
  // Not finished yet: --more is refused, and says how to finish.
  charnn::detail::TrainFaults interrupt;
  interrupt.interrupt_after = 10;
  REQUIRE(charnn::detail::train_with_faults(c, builtin_plugins(), {}, interrupt).stop_reason ==
          "interrupted");
  TrainConfig more = resume_of(dir / "run");
  more.more = 1.0;
  try {
    train(more, builtin_plugins());
    FAIL("--more was accepted on an unfinished run");
  } catch (const charnn::error& e) {
    CHECK_THAT(std::string(e.what()), Catch::Contains("has not finished"));
    CHECK_THAT(e.hint(), Catch::Contains("without --more"));
  }
  REQUIRE(train(resume_of(dir / "run"), builtin_plugins()).stop_reason == "max_iters");

  // --more with a stop condition of its own is refused: it sets the budget itself.
  TrainConfig both = more;
  both.max_iters = 50;
  both.resume_overrides = {"max_iters"};
  CHECK_THROWS_WITH(train(both, builtin_plugins()), Catch::Contains("sets the new budget"));

  const TrainResult r = train(more, builtin_plugins());
  CHECK(r.stop_reason == "time");
  CHECK(r.iterations > 20);
  const double floor = c.schedule.lr * c.schedule.min_factor;
  const CheckpointData first = read_checkpoint(dir / "run" / "last.ckpt");
  const double from = first.get_double("state.extended_from");
  CHECK(from > 0);
  // A time stop comes just before the limit (room for the last validation), so the saved time can
  // fall short of it; the run still reads finished. Make that case certain rather than timed.
  CheckpointData early = read_checkpoint(dir / "run" / "last.ckpt");
  early.set("state.elapsed", early.get_double("config.time_limit") - 0.25);
  write_checkpoint(dir / "run" / "last.ckpt", early);
  // A second --more continues from where the first left, and the schedule stays ended.
  const TrainResult r2 = train(more, builtin_plugins());
  CHECK(r2.iterations > r.iterations);
  CHECK(read_checkpoint(dir / "run" / "last.ckpt").get_double("state.extended_from") == from);
  const MetricsFile m = read_metrics_file(dir / "run" / "metrics.csv");
  REQUIRE(m.problem.empty());
  std::int64_t past = 0;
  for (const auto& row : m.rows) {
    if (row.iteration <= 20) continue;
    ++past;
    INFO("iteration " << row.iteration);
    CHECK(row.lr == Approx(floor).epsilon(1e-3));
  }
  CHECK(past >= r2.iterations - 20);
}
