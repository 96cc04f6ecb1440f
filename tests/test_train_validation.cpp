// The trainer's validations: the periodic slice that picks best.ckpt, spread over the split,
// and the end's figure (the whole split, or a sample spread over it that fits in --time).
// Rollbacks are in test_rollback.cpp, the rest of training in test_trainer.cpp.
#include <charnn/checkpoint.hpp>
#include <charnn/detail/train_faults.hpp>
#include <charnn/model.hpp>
#include <charnn/trainer.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "training_support.hpp"

using namespace charnn;
using charnn::test::builtin_plugins;
using charnn::test::FaultyRun;
using charnn::test::read_file;
using charnn::test::repeating_corpus;
using charnn::test::resume_of;
using charnn::test::run_with_faults;
using charnn::test::ScratchDir;
using charnn::test::tiny_config;
using charnn::test::write_file;

// A figure laid out as the trainer's validations lay a sample of `units` out over ids: up to N
// streams spaced evenly over all of ids, each of as many whole T-step segments as fit, each
// scored alone from the zero state. *scored receives the units scored.
static double spread_loss(Model& model, std::span<const std::int32_t> ids, std::int64_t units,
                          std::int64_t N, std::int64_t T, std::int64_t* scored) {
  const auto n = static_cast<std::int64_t>(ids.size());
  const std::int64_t m = std::min(n, units + 1);
  N = std::max<std::int64_t>(1, std::min(N, (m - 1) / T));
  const std::int64_t L = (m - 1) / N, stride = (n - 1) / N;
  T = std::min(T, L);
  const std::int64_t per = L / T * T;
  double nats = 0;
  *scored = 0;
  for (std::int64_t k = 0; k < N; ++k) {
    std::int64_t got = 0;
    nats += evaluate_loss(model, ids.subspan(k * stride, per + 1), 1, T, &got) *
            static_cast<double>(got);
    CHECK(got == per);
    *scored += got;
  }
  return nats / static_cast<double>(*scored);
}

// A run on 6,000 units of repeating text, whose 900 validation units the periodic passes score
// 100 at a time.
static TrainConfig slice_config(const ScratchDir& dir) {
  write_file(dir / "corpus.txt", repeating_corpus(6000));
  TrainConfig c = tiny_config(dir / "corpus.txt", dir / "run");
  c.split = {0.8, 0.15, 0.05};
  c.eval_units = 100;
  return c;
}

// That run limited by --time alone, validating every 5 iterations, its messages in the log.
static TrainConfig timed_config(const ScratchDir& dir, double seconds) {
  TrainConfig c = slice_config(dir);
  c.eval_every = 5;
  c.max_iters = 0;
  c.max_exposure = 0;
  c.rollback = 0;
  c.ema = 0;
  c.time_limit = seconds;
  c.progress = TrainConfig::ProgressMode::plain;
  return c;
}

// One of the run's checkpoints and the validation split of its corpus, cut as the run cut it.
struct Checkpointed {
  LoadedModel loaded;
  std::vector<std::int32_t> ids;
  std::span<const std::int32_t> valid;  // into ids
};
static Checkpointed checkpointed(const TrainConfig& c, const std::string& name) {
  Checkpointed k{load_model(c.out / name, builtin_plugins()), {}, {}};
  k.ids = k.loaded.vocab.encode(read_text(c.corpus, k.loaded.vocab.text_options()));
  k.valid = split_corpus(k.ids, c.split).valid;
  return k;
}

TEST_CASE("best.ckpt is chosen on the validation slice; the end adds the whole split",
          "[trainer]") {
  ScratchDir dir("slice");
  TrainConfig c = slice_config(dir);
  c.max_iters = 25;  // slices at 10, 20 and 25, then the whole split at 25
  const TrainResult r = train(c, builtin_plugins());

  struct Row {
    long long iteration;
    double valid;
    long long units;
    std::string validation;
  };
  std::vector<Row> rows;
  std::istringstream csv(read_file(dir / "run" / "metrics.csv"));
  std::string line;
  std::getline(csv, line);
  CHECK(line.ends_with(",valid_units,trained_valid_loss,validation"));
  while (std::getline(csv, line)) {
    std::vector<std::string> cols;
    std::stringstream cells(line);
    for (std::string cell; std::getline(cells, cell, ',');) cols.push_back(cell);
    if (cols.size() >= 13 && !cols[7].empty())
      rows.push_back({std::stoll(cols[0]), std::stod(cols[7]), std::stoll(cols[10]), cols[12]});
  }
  REQUIRE(rows.size() == 4);
  CHECK(rows[0].iteration == 10);
  CHECK(rows[1].iteration == 20);
  CHECK(rows[2].iteration == 25);
  CHECK(rows[3].iteration == 25);
  for (int k = 0; k < 3; ++k) CHECK(rows[k].units <= 100);
  for (int k = 0; k < 3; ++k) CHECK(rows[k].validation == "periodic");
  CHECK(rows[3].units > 800);
  CHECK(rows[3].validation == "end");
  CHECK(r.valid_loss == Approx(rows[3].valid).margin(1e-5));
  const Row best = *std::min_element(rows.begin(), rows.begin() + 3,
                                     [](const Row& a, const Row& b) { return a.valid < b.valid; });
  CHECK(r.best_valid_loss == Approx(best.valid).margin(1e-5));
  // curves.svg, rewritten at each validation, ends with the whole split's figure marked apart.
  const std::string curves = read_file(dir / "run" / "curves.svg");
  CHECK_THAT(curves, Catch::StartsWith("<svg") && Catch::EndsWith("</svg>"));
  char end[64];
  std::snprintf(end, sizeof end, "end of run %.4f (%lld validation units)", rows[3].valid,
                rows[3].units);  // under 1,000 units: no separator
  CHECK_THAT(curves, Catch::Contains(end));

  // best.ckpt holds the model that scored the best slice figure: 100 units in streams spread
  // over the split, so that the slice stands for all of it (its first 100 would not).
  const Checkpointed k = checkpointed(c, "best.ckpt");
  std::int64_t scored = 0;
  CHECK(spread_loss(*k.loaded.model, k.valid, 100, c.batch, c.seq_len, &scored) ==
        Approx(r.best_valid_loss).epsilon(1e-9));
  CHECK(scored == rows[0].units);
  CHECK(evaluate_loss(*k.loaded.model, k.valid.first(100), c.batch, c.seq_len) !=
        Approx(r.best_valid_loss).epsilon(1e-6));
}

TEST_CASE("--time counts the end; a split too long for its share is sampled, spread over it",
          "[trainer]") {
  ScratchDir dir("end-share");
  const TrainConfig c = timed_config(dir, 2);
  // At 0.01 s a unit the whole split would take 9 s, past 5% of --time (0.1 s): the end scores
  // its least, the slice's 100 units, which the last periodic validation has scored already.
  // That one takes 1 s by this speed: training stops 1 s early.
  const FaultyRun r = run_with_faults(c, {.eval_seconds_per_unit = 0.01});
  INFO(r.log);
  CHECK(r.result.stop_reason == "time");
  CHECK(r.result.seconds >= 1.0);
  CHECK(r.result.seconds < 1.9);  // the real end takes milliseconds
  CHECK_THAT(r.log, Catch::Contains("units spread over the split (the whole split, 900 units, "
                                    "would have taken 9s) "));
  CHECK_THAT(r.log, Catch::Contains("units spread over the split); best validation"));

  const std::string metrics = read_file(dir / "run" / "metrics.csv");
  const std::string last = metrics.substr(metrics.rfind('\n', metrics.size() - 2) + 1);
  CHECK_THAT(last, Catch::EndsWith(",end\n"));
  const CheckpointData d = read_checkpoint(dir / "run" / "last.ckpt");
  const std::int64_t scored = d.get_int("state.end_units");
  CHECK(scored > 0);
  CHECK(scored <= 100);

  // The figure is the mean over streams each scored alone from the zero state, evenly spaced
  // over the split: not its first 100 units.
  const Checkpointed k = checkpointed(c, "last.ckpt");
  std::int64_t units = 0;
  CHECK(
      d.get_double("state.last_valid") ==
      Approx(spread_loss(*k.loaded.model, k.valid, 100, c.batch, c.seq_len, &units)).epsilon(1e-9));
  CHECK(units == scored);
}

TEST_CASE("an end with time for more than the slice scores a larger sample spread over the split",
          "[trainer]") {
  ScratchDir dir("end-sample");
  const TrainConfig c = timed_config(dir, 1);
  // 5% of --time at 1.25e-4 s a unit: 400 units, more than the slice, less than the split.
  const FaultyRun r = run_with_faults(c, {.eval_seconds_per_unit = 1.25e-4});
  INFO(r.log);
  CHECK(r.result.stop_reason == "time");
  const CheckpointData d = read_checkpoint(dir / "run" / "last.ckpt");
  const Checkpointed k = checkpointed(c, "last.ckpt");
  std::int64_t units = 0;
  const double end = spread_loss(*k.loaded.model, k.valid, 400, c.batch, c.seq_len, &units);
  CHECK(units == 384);  // 4 streams of 8 segments of 12 steps
  CHECK(d.get_int("state.end_units") == units);
  CHECK(d.get_double("state.last_valid") == Approx(end).epsilon(1e-9));
  const std::string metrics = read_file(dir / "run" / "metrics.csv");
  const std::string last = metrics.substr(metrics.rfind('\n', metrics.size() - 2) + 1);
  CHECK_THAT(last, Catch::Contains(",384,") && Catch::EndsWith(",end\n"));
}

TEST_CASE("a run saved before the spread slice scores its best model again on it when resumed",
          "[trainer]") {
  ScratchDir dir("old-slice");
  TrainConfig c = slice_config(dir);
  c.eval_every = 10;
  c.max_iters = 30;
  c.rollback = 0;
  detail::TrainFaults interrupt;
  interrupt.interrupt_after = 25;  // validations at 10 and 20
  REQUIRE(detail::train_with_faults(c, builtin_plugins(), {}, interrupt).stop_reason ==
          "interrupted");
  CHECK(read_checkpoint(dir / "run" / "last.ckpt").get_int("state.slice_spread") == 1);

  // As a run of before 36abc32 left it: no key, and a best figure of the split's first units
  // (here one far lower than any model scores, which nothing after it would beat).
  CheckpointData d = read_checkpoint(dir / "run" / "last.ckpt");
  const std::int64_t best_iteration = d.get_int("state.best_iteration");
  d.header.erase("state.slice_spread");
  d.set("state.best_valid", "0.001");
  write_checkpoint(dir / "run" / "last.ckpt", d);
  const Checkpointed best = checkpointed(c, "best.ckpt");
  std::int64_t units = 0;
  const double again = spread_loss(*best.loaded.model, best.valid, 100, c.batch, c.seq_len, &units);

  TrainConfig resume = resume_of(dir / "run");
  resume.progress = TrainConfig::ProgressMode::plain;
  const FaultyRun r = run_with_faults(resume, {});
  INFO(r.log);
  CHECK(r.result.stop_reason == "max_iters");
  CHECK_THAT(r.log, Catch::Contains("this run validated on the first 100 units"));
  char said[64];
  std::snprintf(said, sizeof said, "its best model (iteration %lld) scores %.4f",
                static_cast<long long>(best_iteration), again);
  CHECK_THAT(r.log, Catch::Contains(said));
  const CheckpointData after = read_checkpoint(dir / "run" / "last.ckpt");
  CHECK(after.get_int("state.slice_spread") == 1);
  CHECK(after.get_double("state.best_valid") <= again + 1e-12);
  CHECK(after.get_double("state.best_valid") > 0.001);
}
