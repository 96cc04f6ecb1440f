// Training end to end through the library (charnn::train): memorising a synthetic corpus,
// snapshots, the weight average, the NaN guard, the default run directory, and the training
// configuration (old checkpoints' keys, --weight-decay-mode). Validation is in
// test_train_validation.cpp, resuming in test_train_resume.cpp, the program's cases in
// test_cli_train.cpp.
#include <charnn/checkpoint.hpp>
#include <charnn/detail/train_faults.hpp>
#include <charnn/error.hpp>
#include <charnn/memory_estimate.hpp>
#include <charnn/metrics_file.hpp>
#include <charnn/model.hpp>
#include <charnn/train_plan.hpp>
#include <charnn/trainer.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

#include "shared_data.hpp"
#include "training_support.hpp"

using namespace charnn;
using charnn::test::builtin_plugins;
using charnn::test::count_lines;
using charnn::test::FaultyRun;
using charnn::test::read_file;
using charnn::test::repeating_corpus;
using charnn::test::resume_of;
using charnn::test::run_with_faults;
using charnn::test::ScratchDir;
using charnn::test::tiny_config;
using charnn::test::write_file;

TEST_CASE("a tiny model memorises a short synthetic corpus", "[trainer]") {
  ScratchDir dir("memorise");
  write_file(dir / "corpus.txt", repeating_corpus(6000));
  TrainConfig c = tiny_config(dir / "corpus.txt", dir / "run");
  c.cells = {"lstm"};
  c.hidden = 32;
  c.seq_len = 25;
  c.batch = 8;
  c.schedule.lr = 1e-2;
  c.optimizer.weight_decay = 0;  // it works against learning by heart, which is the point here
  c.max_iters = 300;
  c.eval_every = 100;
  const TrainResult r = train(c, builtin_plugins());
  CHECK(r.stop_reason == "max_iters");
  CHECK(r.iterations == 300);
  // Scored as one stream, so only the first few units lack context.
  LoadedModel m = load_model(dir / "run" / "last.ckpt", builtin_plugins());
  const auto ids = m.vocab.encode(read_text({dir / "corpus.txt"}, m.vocab.text_options()));
  const double loss = evaluate_loss(*m.model, ids, 1, 200);
  INFO("smoothed train loss " << r.train_loss << ", whole corpus " << loss);
  CHECK(loss < 0.05);
  CHECK(r.train_loss < 0.1);
  CHECK(r.best_valid_loss <= r.valid_loss);
  CHECK(std::filesystem::exists(dir / "run" / "best.ckpt"));
  CHECK(std::filesystem::exists(dir / "run" / "last.ckpt"));
  CHECK(std::filesystem::exists(dir / "run" / "config.json"));
  const std::string metrics = read_file(dir / "run" / "metrics.csv");
  CHECK(metrics.rfind("iteration,epoch,seconds,units,lr,train_loss", 0) == 0);
  CHECK(count_lines(metrics) == 1 + 300 / 5);  // header + one row per --log-every
}

TEST_CASE("--keep-every keeps the model of every K-th iteration under its validation loss",
          "[trainer]") {
  ScratchDir dir("snapshots");
  write_file(dir / "corpus.txt", repeating_corpus(6000));
  TrainConfig c = tiny_config(dir / "corpus.txt", dir / "run");
  c.max_iters = 14;
  c.eval_every = 10;
  c.keep_every = 6;  // validations at 6, 10, 12 and 14 (the end); snapshots at 6 and 12
  train(c, builtin_plugins());
  std::vector<std::string> kept;
  for (const auto& e : std::filesystem::directory_iterator(dir / "run"))
    if (e.path().filename().string().starts_with("iter-")) kept.push_back(e.path().filename());
  std::sort(kept.begin(), kept.end());
  REQUIRE(kept.size() == 2);
  CHECK_THAT(kept[0], Catch::Matches(R"(iter-12-val-\d\.\d{3}\.ckpt)"));
  CHECK_THAT(kept[1], Catch::Matches(R"(iter-6-val-\d\.\d{3}\.ckpt)"));
  // Each is the model of its own iteration, not the final one, and loads like any checkpoint.
  const CheckpointData six = read_checkpoint(dir / "run" / kept[1]);
  CHECK(six.get_int("state.iteration") == 6);
  const double named = std::stod(kept[1].substr(std::string("iter-6-val-").size(), 5));
  LoadedModel m = load_model(dir / "run" / kept[1], builtin_plugins());
  const auto ids = m.vocab.encode(read_text({dir / "corpus.txt"}, m.vocab.text_options()));
  const Split split = split_corpus(ids, c.split);
  CHECK(evaluate_loss(*m.model, split.valid, c.batch, c.seq_len) == Approx(named).margin(6e-4));
}

TEST_CASE("--progress json writes one JSON object per line with the fields of metrics.csv",
          "[trainer]") {
  ScratchDir dir("json-progress");
  write_file(dir / "corpus.txt", repeating_corpus(6000));
  TrainConfig c = tiny_config(dir / "corpus.txt", dir / "run");
  c.max_iters = 20;
  c.progress = TrainConfig::ProgressMode::json;
  std::ostringstream log;
  TrainHooks hooks;
  hooks.log = &log;
  const TrainResult r = train(c, builtin_plugins(), hooks);
  std::istringstream lines(log.str());
  std::map<std::string, int> events;
  nlohmann::json done;
  double best_seen = 1e30;
  for (std::string line; std::getline(lines, line);) {
    INFO(line);
    const auto j = nlohmann::json::parse(line);  // every line is a whole object
    const std::string event = j.at("event");
    ++events[event];
    if (event == "log") CHECK(j.at("train_loss").get<double>() > 0);
    if (event == "validation" && j.at("best").get<bool>())
      best_seen = std::min(best_seen, j.at("valid_loss").get<double>());
    if (event == "validation")  // the default --ema: the model is the better of the two
      CHECK(j.at("valid_loss").get<double>() <= j.at("trained_valid_loss").get<double>());
    if (event == "done") done = j;
  }
  CHECK(events["log"] == 2);         // iterations 5 and 15; 10 and 20 are validation rows
  CHECK(events["validation"] == 2);  // 10, 20 (the whole split: eval_units 0)
  CHECK(events["message"] >= 1);     // the banner
  REQUIRE(events["done"] == 1);
  CHECK(done.at("reason") == "max_iters");
  CHECK(done.at("iteration") == 20);
  CHECK(done.at("best_valid_loss").get<double>() == Approx(r.best_valid_loss));
  CHECK(best_seen == Approx(r.best_valid_loss));
}

TEST_CASE("--ema: validation scores the weights and their average, and the checkpoint keeps the "
          "better",
          "[trainer]") {
  ScratchDir dir("ema");
  write_file(dir / "corpus.txt", repeating_corpus(1300) + "Some different text at the end!\n");
  TrainConfig c = tiny_config(dir / "corpus.txt", dir / "run");
  c.ema = 0.9;
  c.rollback = 0;  // so that the run without the average trains the same weights
  c.schedule.lr = 3e-2;  // a high constant rate: the weights jitter, and the average helps
  c.schedule.kind = LrScheduleKind::constant;
  c.max_iters = 40;
  c.eval_every = 5;
  c.progress = TrainConfig::ProgressMode::plain;
  std::ostringstream log;
  TrainHooks hooks;
  hooks.log = &log;
  const TrainResult r = train(c, builtin_plugins(), hooks);
  INFO(log.str());

  // Every validation row has both figures, and the run's figure is the lower.
  std::istringstream csv(read_file(dir / "run" / "metrics.csv"));
  std::string line;
  std::getline(csv, line);
  CHECK(line.ends_with(",trained_valid_loss,validation"));
  int rows = 0, averaged = 0;
  while (std::getline(csv, line)) {
    std::vector<std::string> cols;
    std::stringstream cells(line);
    for (std::string cell; std::getline(cells, cell, ',');) cols.push_back(cell);
    if (cols.size() < 13 || cols[7].empty() || cols[12] == "end") continue;
    ++rows;
    REQUIRE_FALSE(cols[11].empty());
    const double valid = std::stod(cols[7]), trained = std::stod(cols[11]);
    CHECK(valid <= trained);
    if (valid < trained) ++averaged;
  }
  CHECK(rows == 8);
  CHECK(averaged > 0);  // at this rate the average wins somewhere
  CHECK_THAT(log.str(), Catch::Contains("(weight average; trained weights "));
  CHECK_THAT(log.str(), Catch::Contains("(trained weights; weight average "));

  // The checkpoint's model is the one that was scored: its loss on the validation split is the
  // run's final figure, and it is the average exactly when the average scored lower.
  const CheckpointData last = read_checkpoint(dir / "run" / "last.ckpt");
  REQUIRE(last.live.size() == last.params.size());
  REQUIRE(last.average.size() == last.params.size());
  CHECK(last.params == (last.get_int("state.average_chosen") ? last.average : last.live));
  CHECK(last.live != last.average);
  LoadedModel loaded = load_model(dir / "run" / "last.ckpt", builtin_plugins());
  const auto ids =
      loaded.vocab.encode(read_text({dir / "corpus.txt"}, loaded.vocab.text_options()));
  const Split split = split_corpus(ids, c.split);
  CHECK(evaluate_loss(*loaded.model, split.valid, c.batch, c.seq_len) ==
        Approx(r.valid_loss).epsilon(1e-12));

  // Off: no sections, no column values.
  c.ema = 0;
  c.out = dir / "off";
  c.progress = TrainConfig::ProgressMode::quiet;
  train(c, builtin_plugins());
  const CheckpointData off = read_checkpoint(dir / "off" / "last.ckpt");
  CHECK(off.live.empty());
  CHECK(off.average.empty());
  CHECK(off.params == last.live);  // the same training: the average never steers it
}

TEST_CASE("a NaN loss stops training, names the iteration and keeps best.ckpt", "[trainer]") {
  ScratchDir dir("nan");
  write_file(dir / "corpus.txt", repeating_corpus(3000));
  TrainConfig c = tiny_config(dir / "corpus.txt", dir / "run");
  c.eval_every = 5;
  c.max_iters = 30;
  TrainHooks hooks;
  charnn::detail::TrainFaults nan_at_12;
  nan_at_12.inject_nan_at = 12;
  std::string best_before, last_before;
  hooks.on_step = [&](std::int64_t it, double) {
    if (it == 11) {
      best_before = read_file(dir / "run" / "best.ckpt");
      last_before = read_file(dir / "run" / "last.ckpt");
    }
  };
  try {
    charnn::detail::train_with_faults(c, builtin_plugins(), hooks, nan_at_12);
    FAIL("training went on past a NaN loss");
  } catch (const charnn::error& e) {
    CHECK_THAT(std::string(e.what()),
               Catch::Contains("diverged at iteration 12") && Catch::Contains("nan"));
    CHECK_THAT(e.hint(), Catch::Contains("--lr") && Catch::Contains("--resume"));
  }
  REQUIRE(!best_before.empty());
  CHECK(read_file(dir / "run" / "best.ckpt") == best_before);
  CHECK(read_file(dir / "run" / "last.ckpt") == last_before);
  CHECK_NOTHROW(load_model(dir / "run" / "best.ckpt", builtin_plugins()));
}

TEST_CASE("a default run goes under runs/ and runs/latest points at it", "[trainer]") {
  ScratchDir dir("default-run");
  write_file(dir / "corpus.txt", repeating_corpus(2000));
  TrainConfig c = tiny_config(dir / "corpus.txt", {});
  c.max_iters = 2;
  const auto cwd = std::filesystem::current_path();
  std::filesystem::current_path(dir.path());
  TrainResult r;
  std::filesystem::path found;
  try {
    r = train(c, builtin_plugins());
    found = resolve_checkpoint({}, CheckpointChoice::best);
  } catch (...) {
    std::filesystem::current_path(cwd);
    throw;
  }
  std::filesystem::current_path(cwd);
  CHECK(r.run_dir.parent_path() == "runs");
  CHECK(r.run_dir.filename().string().rfind("corpus-", 0) == 0);
  CHECK(found == std::filesystem::path("runs/latest/best.ckpt"));
  CHECK(std::filesystem::exists(dir.path() / r.run_dir / "metrics.csv"));
}

TEST_CASE("a config written by an older charnn (17-digit numbers, fewer keys) loads",
          "[trainer][config]") {
  // The keys of a checkpoint written before the option table, as they were stored.
  const std::map<std::string, std::string> old = {
      {"batch", "32"},
      {"beta1", "0.90000000000000002"},
      {"beta2", "0.999"},
      {"cells", "lstm,lstm"},
      {"clip", "5"},
      {"corpus", "/a.txt\n/b.txt"},
      {"decay_after", "0"},
      {"dropout", "0.10000000149011612"},
      {"epochs", "0"},
      {"eps", "1e-08"},
      {"eval_every", "100"},
      {"eval_units", "100000"},
      {"hidden", "512"},
      {"log_every", "50"},
      {"lr", "0.02"},
      {"lr_decay", "0.94999999999999996"},
      {"lr_schedule", "cosine"},
      {"max_iters", "300"},
      {"max_vocab", "0"},
      {"min_count", "1"},
      {"min_lr_factor", "0.050000000000000003"},
      {"momentum", "0.90000000000000002"},
      {"newlines", "lf"},
      {"normalize", "nfc"},
      {"on_invalid", "error"},
      {"optimizer", "adam"},
      {"patience", "0"},
      {"rms_decay", "0.98999999999999999"},
      {"seed", "1"},
      {"seq_len", "64"},
      {"split", "0.90000000000000002,0.050000000000000003,0.050000000000000003"},
      {"time_limit", "0"},
      {"units", "grapheme"},
      {"warmup", "100"},
      {"weight_decay", "0"}};
  const TrainConfig c = config_from_keys(old, "old.ckpt");
  CHECK(c.corpus == std::vector<std::filesystem::path>{"/a.txt", "/b.txt"});
  CHECK(c.optimizer.beta1 == 0.9);
  CHECK(c.dropout == 0.1f);
  CHECK(c.split.train == 0.9);
  CHECK(c.schedule.decay == 0.95);
  CHECK(c.precision == StepPrecision::f32);  // before --precision: float32
  CHECK(c.optimizer.weight_decay_mode == WeightDecayMode::l2);
  // Written back, the numbers are in their shortest exact form.
  const std::string json = config_to_json(c);
  CHECK_THAT(json,
             Catch::Contains("\"beta1\": 0.9,") && Catch::Contains("\"split\": \"0.9,0.05,0.05\""));
  CHECK(config_from_keys(config_to_keys(c), "new.ckpt").optimizer.rms_decay == 0.99);
  // A key that is neither optional nor present is still an error naming it.
  auto missing = old;
  missing.erase("hidden");
  CHECK_THROWS_WITH(config_from_keys(missing, "old.ckpt"), Catch::Contains("'hidden'"));
}

TEST_CASE("--weight-decay-mode is kept in config.json and the checkpoint, and fixed on resume",
          "[trainer][config]") {
  ScratchDir dir("wd-mode");
  write_file(dir / "corpus.txt", repeating_corpus(2000));
  TrainConfig c = tiny_config(dir / "corpus.txt", dir / "run");
  CHECK(c.optimizer.weight_decay_mode == WeightDecayMode::decoupled);  // the default: AdamW
  c.max_iters = 3;
  c.optimizer.weight_decay = 0.1;
  c.optimizer.weight_decay_mode = WeightDecayMode::l2;
  c.progress = TrainConfig::ProgressMode::plain;  // the banner, into the log
  CHECK(config_from_keys(config_to_keys(c), "x").optimizer.weight_decay_mode ==
        WeightDecayMode::l2);
  const FaultyRun first = run_with_faults(c, {});
  CHECK_THAT(first.log, Catch::Contains("lr 0.01 (cosine), weight decay 0.1 (l2), clip 5"));
  CHECK_THAT(read_file(dir / "run" / "config.json"),
             Catch::Contains("\"weight_decay_mode\": \"l2\""));
  const CheckpointData d = read_checkpoint(dir / "run" / "last.ckpt");
  CHECK(d.get_string("config.weight_decay_mode") == "l2");

  TrainConfig again = resume_of(dir / "run");
  again.optimizer.weight_decay_mode = WeightDecayMode::decoupled;
  again.resume_overrides = {"weight_decay_mode"};
  CHECK_THROWS_WITH(train(again, builtin_plugins()),
                    Catch::Contains("--weight-decay-mode cannot change"));
  again.resume_overrides = {"max_iters"};
  again.max_iters = 5;
  CHECK(train(again, builtin_plugins()).iterations == 5);
  CHECK(read_checkpoint(dir / "run" / "last.ckpt").get_string("config.weight_decay_mode") == "l2");
}

TEST_CASE("--max-exposure stops a timed run at that exposure and says so", "[trainer][config]") {
  ScratchDir dir("exposure");
  write_file(dir / "corpus.txt", repeating_corpus(3000));
  TrainConfig c = tiny_config(dir / "corpus.txt", dir / "run");
  c.max_iters = 0;
  c.time_limit = 600;
  c.max_exposure = 2;
  c.progress = TrainConfig::ProgressMode::plain;  // the banner and the end, into the log
  const FaultyRun r = run_with_faults(c, {});
  INFO(r.log);
  CHECK(r.result.stop_reason == "max_iters");
  CHECK_THAT(r.log, Catch::Contains("done: reached --max-exposure 2 (a longer run learns the text "
                                    "by heart) after "));
  CHECK_THAT(r.log, Catch::Contains("stop at exposure 2 ("));
  // The first iteration at which passes x parameters per training unit reach 2.
  const auto at = r.log.find("; train ");
  REQUIRE(at != std::string::npos);
  std::string digits;
  for (std::size_t i = at + 8; std::isdigit(r.log[i]) || r.log[i] == ','; ++i)
    if (r.log[i] != ',') digits += r.log[i];
  const double units = std::stod(digits);
  const CheckpointData d = read_checkpoint(dir / "run" / "last.ckpt");
  const double params = static_cast<double>(
      load_model(dir / "run" / "last.ckpt", builtin_plugins()).model->params().size());
  const double per_iteration = static_cast<double>(c.batch * c.seq_len);
  const auto iterations =
      static_cast<std::int64_t>(std::ceil(2 * units * units / params / per_iteration));
  CHECK(r.result.iterations == iterations);
  CHECK(d.get_string("config.max_iters") == std::to_string(iterations));
  CHECK(d.get_string("config.max_exposure") == "2");
  CHECK_THAT(read_file(dir / "run" / "config.json"), Catch::Contains("\"max_exposure\": 2,"));

  // auto: none when the user gives the length
  ScratchDir dir2("exposure-auto");
  TrainConfig given = tiny_config(dir / "corpus.txt", dir2 / "run");
  given.max_iters = 3;
  CHECK(given.max_exposure == kAutoMaxExposure);
  CHECK(train(given, builtin_plugins()).iterations == 3);
  CHECK(read_checkpoint(dir2 / "run" / "last.ckpt").get_string("config.max_exposure") == "0");
}

TEST_CASE("the learning-rate check's seconds count against --time, not in the schedule",
          "[trainer]") {
  // A run its iterations end, with a time budget far beyond them: its rates follow the
  // iterations, whether or not a check spent half the budget first (it did not: the clock put the
  // cosine ahead, so the rate followed the wall clock and two runs of one setting parted).
  ScratchDir dir("check-seconds");
  write_file(dir / "corpus.txt", repeating_corpus(3000));
  const auto rates = [&](const char* name, double check_seconds) {
    TrainConfig c = tiny_config(dir / "corpus.txt", dir / name);
    c.time_limit = 600;
    c.log_every = 1;
    charnn::detail::TrainFaults faults;
    faults.check_seconds = check_seconds;
    const TrainResult r = charnn::detail::train_with_faults(c, builtin_plugins(), {}, faults);
    CHECK(r.stop_reason == "max_iters");
    const MetricsFile m = read_metrics_file(dir / name / "metrics.csv");
    REQUIRE(m.problem.empty());
    std::vector<double> lr;
    for (const auto& row : m.rows) lr.push_back(row.lr);
    CHECK(read_checkpoint(dir / name / "last.ckpt").get_double("state.check_seconds") ==
          check_seconds);
    return lr;
  };
  const std::vector<double> plain = rates("plain", 0), checked = rates("checked", 300);
  CHECK(plain.size() >= 30);
  CHECK(plain == checked);
}

TEST_CASE("the memory estimate is the right size for a real run and grows with the model",
          "[trainer]") {
  // The default 2 x 512 LSTM over Thai's 707 units, 32 x 64 batches, peaked at 230 MB of RSS
  // (bench/quality.sh, including the libraries, the corpus and the vocabulary).
  const TrainingShape thai{.parameters = 4'960'451, .layers = 2, .hidden = 512, .vocab = 707,
                           .seq_len = 64, .batch = 32};
  CHECK(training_bytes(thai) > 150e6);
  CHECK(training_bytes(thai) < 400e6);
  TrainingShape wider = thai;
  wider.hidden = 1024;
  wider.parameters = 4 * 1024 * (707 + 1024 + 1) + 4 * 1024 * (2 * 1024 + 1) + 1025 * 707;
  CHECK(training_bytes(wider) > 2 * training_bytes(thai));
  const auto free = available_memory_bytes();
  if (free) CHECK(*free > 0);
  CHECK(bytes_text(999) == "999 bytes");
  CHECK(bytes_text(1.26e9) == "1.3 GB");
  CHECK(bytes_text(3.2e12) == "3.2 TB");
}

TEST_CASE("durations parse with units", "[trainer]") {
  CHECK(parse_duration("90s") == 90);
  CHECK(parse_duration("15m") == 900);
  CHECK(parse_duration("1.5h") == 5400);
  CHECK(parse_duration("2h30m") == 9000);
  CHECK(parse_duration("600") == 600);
  CHECK(parse_duration("0") == 0);
  CHECK_THROWS_WITH(parse_duration("15 minutes"), Catch::Contains("15 minutes"));
  CHECK_THROWS_AS(parse_duration(""), charnn::error);
  CHECK_THROWS_AS(parse_duration("-5m"), charnn::error);
  // Found by the cli fuzz target: each part is finite, the total is not.
  CHECK_THROWS_WITH(parse_duration("1e308d"), Catch::Contains("too long"));
  CHECK_THROWS_WITH(parse_duration("1e308s1e308s"), Catch::Contains("too long"));
  CHECK_THROWS_AS(parse_duration("inf"), charnn::error);
  CHECK_THROWS_AS(parse_duration(" 5m"), charnn::error);
  CHECK_THROWS_AS(parse_duration("0x10s"), charnn::error);
  CHECK(parse_duration("1e3") == 1000);
  CHECK(format_duration(3725) == "1h02m");
  CHECK(format_duration(245) == "4m05s");
}

TEST_CASE("loss on War and Peace drops in a short run", "[trainer][corpus]") {
  if (!charnn::test::have_shared_corpus("warpeace.txt")) return;
  ScratchDir dir("warpeace");
  TrainConfig c = tiny_config(charnn::test::shared_corpus("warpeace.txt"), dir / "run");
  c.cells = {"lstm"};
  c.hidden = 128;
  c.batch = 16;
  c.seq_len = 50;
  c.schedule.lr = 4e-3;
  c.schedule.kind = LrScheduleKind::constant;
  c.max_iters = 100;
  c.eval_every = 50;
  c.eval_units = 10000;
  c.split = {0.98, 0.01, 0.01};  // a smaller validation split keeps the final pass short
  c.threads = 0;
  std::vector<double> losses;
  TrainHooks hooks;
  hooks.on_step = [&](std::int64_t, double loss) { losses.push_back(loss); };
  const TrainResult r = train(c, builtin_plugins(), hooks);
  // The validation at iteration 50, from metrics.csv.
  double first_valid = 0;
  std::istringstream rows(read_file(dir / "run" / "metrics.csv"));
  for (std::string row; std::getline(rows, row);)
    if (row.rfind("50,", 0) == 0 && row.back() != ',') {
      std::vector<std::string> cols;
      std::stringstream cells(row);
      for (std::string cell; std::getline(cells, cell, ',');) cols.push_back(cell);
      if (cols.size() >= 8 && !cols[7].empty()) first_valid = std::stod(cols[7]);
    }
  INFO("first loss " << losses.front() << ", validation at 50: " << first_valid
                     << ", at 100: " << r.valid_loss);
  CHECK(losses.front() > 4.0);  // about ln(vocabulary size) at the start
  CHECK(first_valid > 0);
  CHECK(r.valid_loss < first_valid - 0.1);
  CHECK(r.valid_loss < 2.95);
}
