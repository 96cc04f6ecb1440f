// `charnn train` (and `charnn eval` on what it trained) as a user runs them: the real program
// (CHARNN_EXE). SIGTERM checkpoints and says how to resume; the options come from the library's
// table; the resume rules hold on the command line.
#include <charnn/checkpoint.hpp>
#include <charnn/trainer.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <regex>
#include <string>
#include <thread>

#include "training_support.hpp"

using namespace charnn;
using namespace charnn::test;  // builtin_plugins, ScratchDir, tiny_config, read/write_file,
                                // count_lines

TEST_CASE("SIGTERM makes charnn train checkpoint, say how to resume and exit 143",
          "[trainer][cli]") {
  ScratchDir dir("sigterm");
  write_file(dir / "corpus.txt", repeating_corpus(20000));
  const auto run = dir / "run";
  const auto log = dir / "stderr.txt";
  // Everything the child needs is prepared before fork: after it, only async-signal-safe calls.
  const std::string corpus = (dir / "corpus.txt").string(), run_arg = run.string();
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, STDERR_FILENO);
    ::dup2(fd, STDOUT_FILENO);
    ::execl(CHARNN_EXE, CHARNN_EXE, "train", corpus.c_str(), "--layers", "1", "--hidden", "16",
            "--batch", "4", "--seq-len", "12", "--max-iters", "100000000", "--eval-every",
            "100000000", "--log-every", "10", "--out", run_arg.c_str(), "--progress", "plain",
            "--threads", "1", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // Wait until it is training (metrics rows appear), then ask it to stop.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < deadline &&
         count_lines(read_file(run / "metrics.csv")) < 3)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ::kill(pid, SIGTERM);
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline + std::chrono::seconds(60)) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      FAIL("charnn train did not stop after SIGTERM");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const std::string err = read_file(log);
  INFO(err);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 143);
  CHECK_THAT(err, Catch::Contains("SIGTERM") &&
                      Catch::Contains("resume with: charnn train --resume " + run.string()));
  const CheckpointData d = read_checkpoint(run / "last.ckpt");
  const std::int64_t done = d.get_int("state.iteration");
  CHECK(done >= 20);
  CHECK_NOTHROW(load_model(run / "last.ckpt", builtin_plugins()));

  // The hint works: resume for a few more iterations.
  std::string out;
  const int rc =
      run_command(std::string(CHARNN_EXE) + " train --resume " + run.string() + " --max-iters " +
                      std::to_string(done + 5) + " --progress plain --threads 1",
                  out);
  INFO(out);
  CHECK(rc == 0);
  CHECK(read_checkpoint(run / "last.ckpt").get_int("state.iteration") == done + 5);
}

TEST_CASE("charnn eval scores text in nats and bits per unit", "[trainer][cli]") {
  ScratchDir dir("eval");
  write_file(dir / "corpus.txt", repeating_corpus(4000));
  TrainConfig c = tiny_config(dir / "corpus.txt", dir / "run");
  c.max_iters = 40;
  train(c, builtin_plugins());
  write_file(dir / "held.txt", "the lazy dog jumps over the quick brown fox.\n");
  std::string out;
  const int rc = run_command(std::string(CHARNN_EXE) + " eval --model " + (dir / "run").string() +
                                 " " + (dir / "held.txt").string() + " --threads 1",
                             out);
  INFO(out);
  CHECK(rc == 0);
  CHECK_THAT(out, Catch::Contains("nats/unit") && Catch::Contains("bits/unit") &&
                      Catch::Contains("perplexity"));
  // Every unit after the first is scored, and the figure does not depend on how the trace runs.
  auto nats = [&](const std::string& options) {
    REQUIRE(run_command(std::string(CHARNN_EXE) + " eval --json --threads 1 --model " +
                            (dir / "run").string() + " " + (dir / "held.txt").string() + options,
                        out) == 0);
    const auto j = nlohmann::json::parse(out.substr(out.find('{')));
    CHECK(j["scored"] == j["units"].get<int>() - 1);
    return j["nats_per_unit"].get<double>();
  };
  const double one = nats(" --streams 1");
  CHECK_THAT(nats(" --streams 4 --warmup 8"), Catch::Matchers::WithinRel(one, 1e-5));
  CHECK_THAT(nats(""), Catch::Matchers::WithinRel(one, 1e-5));
  // Units outside the vocabulary are a clear error naming --unknown, and skip scores the rest.
  write_file(dir / "odd.txt", "QQQ the fox ZZZ\n");
  CHECK(run_command(std::string(CHARNN_EXE) + " eval --model " + (dir / "run").string() + " " +
                        (dir / "odd.txt").string(),
                    out) == 1);
  CHECK_THAT(out, Catch::Contains("error") && Catch::Contains("--unknown"));
  CHECK(run_command(std::string(CHARNN_EXE) + " eval --unknown skip --model " +
                        (dir / "run").string() + " " + (dir / "odd.txt").string(),
                    out) == 0);
  CHECK_THAT(out, Catch::Contains("6 unknown skipped") && Catch::Contains("nats/unit"));
  CHECK(run_command(std::string(CHARNN_EXE) + " eval --streams 0 --model " +
                        (dir / "run").string() + " " + (dir / "held.txt").string(),
                    out) == 2);
  CHECK_THAT(out, Catch::Contains("--streams must be at least 1"));
}

TEST_CASE("charnn --version names the release and the commit it was built from", "[cli]") {
  std::string out;
  REQUIRE(run_command(quote(CHARNN_EXE) + " --version", out) == 0);
  // "unknown" where the sources are not a git checkout (a release tarball).
  CHECK(std::regex_match(
      out, std::regex(R"(charnn \d+\.\d+\.\d+ \(commit ([0-9a-f]{12}(-dirty)?|unknown)\)\n)")));
}

TEST_CASE("charnn train --help lists every flag of the option table with its default",
          "[trainer][cli]") {
  std::string out;
  REQUIRE(run_command(std::string(CHARNN_EXE) + " train --help", out) == 0);
  for (const auto& o : train_options()) {
    if (!o.flag || o.group == TrainOptionGroup::positional) continue;
    const std::string flag = o.flag;
    CHECK_THAT(out, Catch::Contains("--" + flag.substr(0, flag.find(','))));
  }
  CHECK_THAT(out, Catch::Contains("--weight-decay-mode decoupled|l2 (=decoupled)") &&
                      Catch::Contains("--time DURATION (=15m)") &&
                      Catch::Contains("--cell CELL[,CELL...] (=gru)") &&
                      Catch::Contains("--split TRAIN,VALID,TEST (=0.9,0.05,0.05)") &&
                      Catch::Contains("--hidden N|auto (=auto)") && !Catch::Contains(" arg "));
}

TEST_CASE("charnn train checks --cell against --layers and keeps --resume to what may change",
          "[trainer][cli]") {
  ScratchDir dir("cli-train-options");
  write_file(dir / "corpus.txt", repeating_corpus(2000));
  const std::string exe = std::string(CHARNN_EXE) + " train ";
  const std::string run = (dir / "run").string();
  std::string out;
  CHECK(run_command(exe + (dir / "corpus.txt").string() + " --cell lstm,elman --layers 3", out) ==
        2);
  CHECK_THAT(out, Catch::Contains("--cell lists 2 layers but --layers is 3"));
  REQUIRE(run_command(exe + (dir / "corpus.txt").string() +
                          " --cell elman --hidden 8 --batch 2 --seq-len 8 --max-iters 2 "
                          "--weight-decay-mode decoupled --weight-decay 0.01 --progress quiet "
                          "--threads 1 --out " +
                          run,
                      out) == 0);
  const CheckpointData d = read_checkpoint(dir / "run" / "last.ckpt");
  CHECK(d.get_string("config.cells") == "elman,elman");
  CHECK(d.get_string("config.weight_decay_mode") == "decoupled");
  CHECK(run_command(exe + "--resume " + run + " --weight-decay-mode l2", out) == 2);
  CHECK_THAT(out, Catch::Contains("--weight-decay-mode cannot change when resuming: it is "
                                  "decoupled in " + run + "/last.ckpt, and l2 was given"));
  CHECK(run_command(exe + "--resume " + run + " --hidden 16", out) == 2);
  CHECK_THAT(out, Catch::Contains("--hidden cannot change when resuming: it is 8"));
  // Giving the run's own value again changes nothing: not an error.
  CHECK(run_command(exe + "--resume " + run + " --hidden 8 --cell elman --max-iters 2 "
                          "--progress quiet --threads 1",
                    out) == 0);
  CHECK(run_command(exe + "--resume " + run + " --max-iters 3 --progress quiet --threads 1", out) ==
        0);
  CHECK(read_checkpoint(dir / "run" / "last.ckpt").get_int("state.iteration") == 3);
}

TEST_CASE("charnn train says so when an explicit --precision bf16 cannot be taken",
          "[trainer][cli]") {
  ScratchDir dir("cli-train-bf16");
  write_file(dir / "corpus.txt", repeating_corpus(2000));
  // The test plugin does not implement set_train_precision: it trains in f32 on any CPU, as the
  // real cells do without AVX512_BF16.
  const std::string plugin =
      (std::filesystem::path(CHARNN_TEST_PLUGIN_DIR) / "charnn-cell-test_linear.so").string();
  std::string out;
  REQUIRE(run_command(std::string(CHARNN_EXE) + " train " + (dir / "corpus.txt").string() +
                          " --plugin " + plugin +
                          " --cell test_linear --hidden 8 --batch 2 --seq-len 8 --max-iters 1 "
                          "--precision bf16 --progress plain --threads 1 --out " +
                          (dir / "run").string(),
                      out) == 0);
  CHECK_THAT(out, Catch::Contains("--precision bf16: no cell layer took it"));
  CHECK_THAT(out, Catch::Contains("training in f32"));
}

TEST_CASE("charnn train refuses numbers it cannot keep", "[trainer][cli]") {
  ScratchDir dir("cli-train-numbers");
  write_file(dir / "corpus.txt", repeating_corpus(2000));
  const std::string exe = std::string(CHARNN_EXE) + " train " + (dir / "corpus.txt").string();
  const struct {
    const char* args;
    const char* says;
  } bad[] = {
      {" --random-seed -1", "'-1' is not a seed"},  // wrapped to 2^64 - 1 before
      {" --seed -1", "--seed is now --random-seed"},  // the old name, with a note
      {" --random-seed 18446744073709551616", "--random-seed"},
      {" --batch 99999999999999999999", "--batch"},  // saturated to 2^63 - 1 before
      {" --random-seed 12abc", "--random-seed"},
  };
  for (const auto& b : bad) {
    CAPTURE(b.args);
    std::string out;
    CHECK(run_command(exe + b.args + " --max-iters 1 --progress quiet", out) == 2);
    CHECK_THAT(out, Catch::Contains(b.says));
  }
}

TEST_CASE("a config read from keys writes back the keys it was read from (found by fuzz_config)",
          "[trainer]") {
  auto keys = config_to_keys(TrainConfig{});
  keys["seed"] = "18446744073709551615";  // the largest seed survives a round trip
  CHECK(config_to_keys(config_from_keys(keys, "a.ckpt")).at("seed") == "18446744073709551615");
  keys["seed"] = "-1";
  CHECK_THROWS_WITH(config_from_keys(keys, "a.ckpt"), Catch::Contains("not a seed"));
  keys["seed"] = "1";
  keys["batch"] = std::string("3\0\0002", 4);  // a NUL inside the value
  CHECK_THROWS_WITH(config_from_keys(keys, "a.ckpt"), Catch::Contains("batch"));
  keys["batch"] = "99999999999999999999";
  CHECK_THROWS_WITH(config_from_keys(keys, "a.ckpt"), Catch::Contains("out of range"));
}
