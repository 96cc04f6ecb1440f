// What must never pass silently, checked on the real program: one writer per run directory,
// temporary files of killed runs cleaned up, output lost to a full disk or a file size limit
// reported as a failure.
#include <charnn/checkpoint.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>
#include <string>

#include "training_support.hpp"

using namespace charnn;
using namespace charnn::test;  // ScratchDir, run_command, read/write_file

namespace {

namespace fs = std::filesystem;

// A tiny run: a few iterations, no time probe, one thread.
std::string train_args(const fs::path& corpus, int iterations, int hidden = 16) {
  return " train " + quote(corpus) + " --layers 1 --hidden " + std::to_string(hidden) +
         " --batch 4 --seq-len 12 --eval-every 5 --progress plain --threads 1 --max-iters " +
         std::to_string(iterations);
}

std::string exe() {
  return quote(CHARNN_EXE);
}

// Holds RUN/.lock as a training process would, with this test's pid in it.
class HeldLock {
 public:
  explicit HeldLock(const fs::path& run_dir) {
    fd_ = ::open((run_dir / ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    REQUIRE(fd_ >= 0);
    REQUIRE(::flock(fd_, LOCK_EX | LOCK_NB) == 0);
    const std::string pid = std::to_string(::getpid()) + "\n";
    REQUIRE(::ftruncate(fd_, 0) == 0);
    REQUIRE(::pwrite(fd_, pid.data(), pid.size(), 0) == static_cast<ssize_t>(pid.size()));
  }
  ~HeldLock() { ::close(fd_); }
  HeldLock(const HeldLock&) = delete;
  HeldLock& operator=(const HeldLock&) = delete;

 private:
  int fd_ = -1;
};

// A scratch directory holding a small corpus, and a run trained on it for `iterations` (none
// when 0).
struct Scratch {
  Scratch(const std::string& name, int iterations) : dir(name) {
    write_file(corpus, repeating_corpus(4000));
    std::string out;
    if (iterations > 0)
      REQUIRE(run_command(exe() + train_args(corpus, iterations) + " --out " + quote(run), out) ==
              0);
  }
  ScratchDir dir;
  const fs::path corpus = dir / "corpus.txt", run = dir / "run";
};

int count_temporaries(const fs::path& dir) {
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir))
    n += e.path().filename().string().find(".tmp-") != std::string::npos;
  return n;
}

}  // namespace

TEST_CASE("a run directory has one writer: a second one is told which pid holds it",
          "[trainer][cli][reliability]") {
  const Scratch s("run-lock", 5);
  const fs::path &dir = s.dir.path(), &corpus = s.corpus, &run = s.run;
  std::string out;
  const std::string held_by = "in use by pid " + std::to_string(::getpid());
  {
    HeldLock lock(run);
    INFO(out);
    CHECK(run_command(exe() + " train --resume " + quote(run) + " --max-iters 10", out) == 1);
    CHECK_THAT(out, Catch::Contains(run.string()) && Catch::Contains(held_by));
    const fs::path fresh = dir / "fresh";
    fs::create_directories(fresh);
    HeldLock other(fresh);
    CHECK(run_command(exe() + train_args(corpus, 5) + " --out " + quote(fresh), out) == 1);
    CHECK_THAT(out, Catch::Contains(held_by));
    CHECK_FALSE(fs::exists(fresh / "metrics.csv"));
  }
  // The checkpoint was left alone, and the run continues once the lock is free.
  CHECK(read_checkpoint(run / "last.ckpt").get_int("state.iteration") == 5);
  INFO(out);
  CHECK(run_command(exe() + " train --resume " + quote(run) + " --max-iters 10", out) == 0);
  CHECK(read_checkpoint(run / "last.ckpt").get_int("state.iteration") == 10);
}

TEST_CASE("two runs started together into one --out: exactly one trains",
          "[trainer][cli][reliability]") {
  const Scratch s("run-race", 0);
  const fs::path &corpus = s.corpus, &run = s.run;
  const std::string one = exe() + train_args(corpus, 40) + " --out " + quote(run) + " 2>/dev/null";
  std::string out;
  REQUIRE(run_command(one + " & a=$!; " + one + " & b=$!; wait $a; ea=$?; wait $b; eb=$?; " +
                          "echo codes $ea $eb",
                      out) == 0);
  INFO(out);
  CHECK_THAT(out, Catch::Contains("codes 0 1") || Catch::Contains("codes 1 0"));
  // metrics.csv is one run's: one header, iterations rising.
  const std::string metrics = read_file(run / "metrics.csv");
  CHECK(metrics.find("iteration,") == 0);
  CHECK(metrics.find("iteration,", 1) == std::string::npos);
  CHECK(read_checkpoint(run / "last.ckpt").get_int("state.iteration") == 40);
}

TEST_CASE("temporary files of a killed run are removed when the run is opened again",
          "[trainer][cli][reliability]") {
  const Scratch s("run-stale", 5);
  const fs::path& run = s.run;
  std::string out;
  // What SIGKILL in the middle of a checkpoint, or a full disk at config.json, leaves behind.
  write_file(run / "last.ckpt.tmp-999999", std::string(1000, 'x'));
  write_file(run / "config.json.tmp-12", std::string(10, 'x'));
  write_file(run / "notes.tmp-draft", "mine");  // not a charnn temporary: kept
  REQUIRE(count_temporaries(run) == 3);
  INFO(out);
  CHECK(run_command(exe() + " train --resume " + quote(run) + " --max-iters 10", out) == 0);
  CHECK_THAT(out, Catch::Contains("removed 2 temporary file(s)") && Catch::Contains("1,010 bytes"));
  CHECK(count_temporaries(run) == 1);
  CHECK(fs::exists(run / "notes.tmp-draft"));
}

TEST_CASE("output lost to a full device is a failure, not success", "[cli][reliability]") {
  if (!fs::exists("/dev/full")) {
    WARN("skipped: this system has no /dev/full");
    return;
  }
  const Scratch s("dev-full", 5);
  const fs::path &corpus = s.corpus, &run = s.run;
  std::string out;
  for (const std::string& command :
       {" eval --model " + quote(run) + " " + quote(corpus),
        " eval --json --model " + quote(run) + " " + quote(corpus),
        " sample --length 200 --model " + quote(run), " vocab " + quote(corpus)}) {
    INFO(command);
    // In a subshell: only stdout goes to /dev/full, stderr still comes back here.
    std::string shell = "(";  // appended piecewise: GCC 12 warns wrongly on "(" + ... here
    shell += exe();
    shell += command;
    shell += " > /dev/full)";
    CHECK(run_command(shell, out) == 1);
    INFO(out);
    CHECK_THAT(out, Catch::Contains("standard output") && Catch::Contains("No space left"));
  }
}

TEST_CASE("a file size limit (ulimit -f) stops training with a message, no temporary left",
          "[trainer][cli][reliability]") {
  const Scratch s("fsize", 0);
  const fs::path &corpus = s.corpus, &run = s.run;
  std::string out;
  // 40 blocks (20-40 kB): room for config.json and metrics.csv, not for a checkpoint of a
  // 64-unit layer (over 300 kB with its optimiser state).
  const int code = run_command(
      "ulimit -f 40 && exec " + exe() + train_args(corpus, 5, 64) + " --out " + quote(run), out);
  INFO(out);
  CHECK(code == 1);
  CHECK_THAT(out, Catch::Contains("cannot write checkpoint") && Catch::Contains("File too large") &&
                      Catch::Contains("ulimit -f"));
  CHECK(count_temporaries(run) == 0);
}

TEST_CASE("a run that cannot even be set up leaves no directory and runs/latest unchanged",
          "[trainer][cli][reliability]") {
  const Scratch s("setup-fails", 0);
  const fs::path &dir = s.dir.path(), &corpus = s.corpus;
  std::string out;
  // No file may grow at all: metrics.csv and config.json cannot be written.
  const int code = run_command(
      "cd " + quote(dir) + " && ulimit -f 0 && exec " + exe() + train_args(corpus, 5), out);
  INFO(out);
  CHECK(code == 1);
  CHECK_THAT(out, Catch::Contains("cannot write"));
  int runs = 0;
  if (fs::exists(dir / "runs"))
    for (const auto& e : fs::directory_iterator(dir / "runs")) (void)e, ++runs;
  CHECK(runs == 0);
}

TEST_CASE("a model too large for the machine is refused before it is allocated, with the figures",
          "[trainer][cli][reliability]") {
  const Scratch s("too-large", 0);
  std::string out;
  // 2 x 100,000 LSTM: 80 billion parameters, over a terabyte with Adam's moments.
  const int code = run_command("cd " + quote(s.dir.path()) + " && exec " + exe() + " train " +
                                   quote(s.corpus) + " --hidden 100000 --max-iters 1",
                               out);
  INFO(out);
  CHECK(code == 1);
  CHECK_THAT(out, Catch::Contains("2 x 100,000"));
  CHECK_THAT(out, Catch::Contains("TB of memory to train"));
  CHECK_THAT(out, Catch::Contains("available"));
  CHECK_THAT(out, Catch::Contains("--no-memory-check"));
  CHECK_FALSE(fs::exists(s.dir / "runs"));
}

TEST_CASE("charnn runs lists each run with its model, progress and best validation",
          "[cli][reliability]") {
  const Scratch s("runs-list", 0);
  const fs::path& dir = s.dir.path();
  std::string out;
  // Two runs under runs/ (the second is runs/latest), one of them kept --keep-every snapshots.
  REQUIRE(run_command("cd " + quote(dir) + " && " + exe() + train_args(s.corpus, 10) +
                          " --keep-every 5 && " + exe() + train_args(s.corpus, 5, 8),
                      out) == 0);
  REQUIRE(run_command("cd " + quote(dir) + " && " + exe() + " runs", out) == 0);
  INFO(out);
  std::istringstream lines(out);
  std::vector<std::string> rows;
  for (std::string line; std::getline(lines, line);) rows.push_back(line);
  REQUIRE(rows.size() == 3);
  CHECK_THAT(rows[0], Catch::StartsWith("run") && Catch::Contains("best valid"));
  CHECK_THAT(rows[1], Catch::StartsWith("  corpus-") && Catch::Contains("gru x 16") &&
                          Catch::Contains(" 10 ") && Catch::Contains("2 snapshots") &&
                          Catch::Contains("corpus.txt"));
  CHECK_THAT(rows[2], Catch::StartsWith("* corpus-") && Catch::Contains("gru x 8"));

  // A run being trained into says so, with the pid; --json gives one object per run.
  fs::path first;
  for (const auto& e : fs::directory_iterator(dir / "runs"))
    if (e.path().filename() != "latest" && !fs::equivalent(e.path(), dir / "runs" / "latest"))
      first = e.path();
  REQUIRE(!first.empty());
  const HeldLock held(first);
  REQUIRE(run_command("cd " + quote(dir) + " && " + exe() + " runs --json", out) == 0);
  std::istringstream json_lines(out);
  int objects = 0, training = 0;
  for (std::string line; std::getline(json_lines, line); ++objects) {
    const auto j = nlohmann::json::parse(line);
    if (j.at("training").get<bool>()) {
      ++training;
      CHECK(j.at("writer_pid") == ::getpid());
      CHECK(j.at("snapshots") == 2);
      CHECK(j.at("iterations") == 10);
      CHECK(j.at("best_valid_loss").get<double>() > 0);
    }
  }
  CHECK(objects == 2);
  CHECK(training == 1);

  // --html: both runs in the table and on one chart; --run picks runs and names unknown ones.
  REQUIRE(run_command("cd " + quote(dir) + " && " + exe() + " runs --html page.html", out) == 0);
  CHECK_THAT(out, Catch::Contains("HTML page: ") && Catch::Contains("page.html"));
  const std::string page = read_file(dir / "page.html");
  CHECK_THAT(page, Catch::StartsWith("<!DOCTYPE html>") && Catch::EndsWith("</html>\n") &&
                       Catch::Contains("<svg") && Catch::Contains(first.filename().string()));
  REQUIRE(run_command("cd " + quote(dir) + " && " + exe() + " runs --html one.html --run " +
                          first.filename().string(),
                      out) == 0);
  CHECK_THAT(read_file(dir / "one.html"), Catch::Contains(first.filename().string()));
  CHECK(run_command("cd " + quote(dir) + " && " + exe() + " runs --html x.html --run nosuch",
                    out) == 2);
  CHECK_THAT(out, Catch::Contains("nosuch") && Catch::Contains(first.filename().string()));
  CHECK_FALSE(fs::exists(dir / "x.html"));
  CHECK(run_command(exe() + " runs " + quote(dir / "nothing-here"), out) == 1);
  CHECK_THAT(out, Catch::Contains("not a directory"));
}

TEST_CASE("the bash completion completes commands, flags and the listed choices of a value",
          "[cli]") {
  ScratchDir dir("completion");
  std::string out;
  REQUIRE(run_command(exe() + " completion bash > " + quote(dir / "charnn.bash"), out) == 0);
  // What TAB offers after the words typed so far (the last one is the word being completed).
  const auto offered = [&](const std::string& words) {
    std::string result;
    const std::string script = "source " + quote(dir / "charnn.bash") + "; COMP_WORDS=(" + exe() +
                               " " + words + "); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); " +
                               "_charnn; echo \"${COMPREPLY[*]}\"";
    write_file(dir / "ask.sh", script);
    REQUIRE(run_command("cd " + quote(dir.path()) + " && bash " + quote(dir / "ask.sh"), result) ==
            0);
    while (!result.empty() && result.back() == '\n') result.pop_back();
    return result;
  };
  CHECK(offered("tr") == "train");
  CHECK(offered("help sa") == "sample");
  CHECK(offered("train --prog") == "--progress");
  CHECK(offered("train --progress j") == "json");
  CHECK(offered("sample --unknown ''") == "error skip map");
  CHECK(offered("runs --js") == "--json");
  CHECK(offered("train --keep-e") == "--keep-every");
  CHECK(offered("eval charnn.b") == "charnn.bash");  // a file name where a FILE goes
  CHECK(run_command(exe() + " completion zsh", out) == 2);
  CHECK_THAT(out, Catch::Contains("no completion for 'zsh'"));
}

TEST_CASE("values a command cannot honour are usage errors naming the option (exit 2)",
          "[cli][reliability]") {
  const Scratch s("bad-values", 5);
  const std::string model = " --model " + quote(s.run);
  const struct {
    std::string args;
    const char* says;
  } bad[] = {
      {" train " + quote(s.corpus) + " --precision int8", "--precision int8 is for sampling"},
      {" train " + quote(s.corpus) + " --threads -1", "--threads -1"},
      {" train " + quote(s.corpus) + " --random-seed -1", "is not a seed"},
      {" train " + quote(s.corpus) + " --hidden 0", "--hidden must be at least 1"},  // was 1
      {" train " + quote(s.corpus) + " --layers 0", "--layers must be at least 1"},
      {" train " + quote(s.corpus) + " --more 5m", "--more extends a finished run"},
      {" train --resume " + quote(s.run) + " --more 5m --time 1h", "--more sets the new budget"},
      {" sample" + model + " --greedy --temperature 0.5", "--greedy and --temperature"},
      {" sample" + model + " --greedy --top-k 3", "--greedy and --top-k"},
      {" sample" + model + " --seed a --seed-file " + quote(s.corpus), "--seed and --seed-file"},
      {" inspect" + model + " --text " + quote(s.corpus) +
           " --max-units 50 --html x.html --html-from 50",
       "--html-from 50 is past the 50 units analysed"},
      {" eval" + model + " --streams 0 " + quote(s.corpus), "--streams must be at least 1"},
      {" dump" + model + " --text " + quote(s.corpus) + " --out d --warmup -1",
       "--warmup must be at least 0"},
  };
  for (const auto& b : bad) {
    CAPTURE(b.args);
    std::string out;
    CHECK(run_command(exe() + b.args, out) == 2);
    CHECK_THAT(out, Catch::Contains(b.says));
  }
}

TEST_CASE("every command's --help fits 90 columns, so no terminal breaks a word", "[cli]") {
  for (const char* command : {"cells", "check-cell", "vocab", "train", "sample", "eval", "dump",
                              "inspect", "runs", "completion"}) {
    CAPTURE(command);
    std::string out;
    REQUIRE(run_command(exe() + " " + command + " --help", out) == 0);
    std::istringstream lines(out);
    std::size_t longest = 0;
    std::string line, widest;
    while (std::getline(lines, line))
      if (line.size() > longest) longest = line.size(), widest = line;
    CAPTURE(widest);
    CHECK(longest <= 90);
  }
}

TEST_CASE("charnn help COMMAND, a seed from standard input and positional dump text", "[cli]") {
  const Scratch s("cli-conventions", 5);
  std::string help, direct;
  REQUIRE(run_command(exe() + " help train", help) == 0);
  REQUIRE(run_command(exe() + " train --help", direct) == 0);
  CHECK(help == direct);
  std::string out;
  CHECK(run_command("printf 'the qu' | " + exe() + " sample --model " + quote(s.run) +
                        " --seed-file - --length 5 --random-seed 1",
                    out) == 0);
  CHECK_THAT(out, Catch::Contains("the qu"));  // the seed from stdin, then the sample
  CHECK(run_command(exe() + " dump --model " + quote(s.run) + " --out " + quote(s.dir / "dump") +
                        " --layer 0 --signal h " + quote(s.corpus),
                    out) == 0);
  CHECK(fs::exists(s.dir / "dump" / "layer0_h.npy"));
  // An output path that is a directory fails before the work, not at the end.
  fs::create_directories(s.dir / "adir");
  CHECK(run_command(exe() + " inspect --model " + quote(s.run) + " --html " +
                        quote(s.dir / "adir") + " " + quote(s.corpus),
                    out) == 1);
  CHECK_THAT(out, Catch::Contains("Is a directory") && !Catch::Contains("in_quotes"));
}
