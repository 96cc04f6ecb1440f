// The `charnn sample` command against a model trained in the test: seeds, counts, stop strings,
// --json, errors and exit codes, and a reader that closes the pipe early.
#include <charnn/checkpoint.hpp>
#include <charnn/trainer.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>

#include "training_support.hpp"

// `charnn sample` as a user runs it, on a small model trained here on a repeated sentence.
namespace {

namespace fs = std::filesystem;

struct Run {
  int exit_code = -1;
  std::string out, err;
};

std::string sh_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Trains once per test process: a 2 x 32 LSTM on "the quick brown fox ..." (a few seconds).
class TrainedModel {
 public:
  TrainedModel() : dir_("sample-cli") {
    const fs::path corpus = dir_ / "fox.txt";
    charnn::test::write_file(corpus, charnn::test::repeating_corpus(8000));
    charnn::TrainConfig c = charnn::test::tiny_config(corpus, dir_ / "run");
    c.hidden = 32;
    c.seq_len = 24;
    c.batch = 8;
    // Enough for greedy to recite the sentence from a cold start whether training runs in f32 or
    // bf16. Skipping bursts and rolling back are for long runs on real text: on this sentence they
    // left 2 of 8 random seeds unable to recite it from a cold start, against 0 of 16 without.
    c.max_iters = 1000;
    c.skip_bursts = 0;
    c.rollback = 0;
    c.eval_every = 200;
    std::ostringstream log;
    charnn::TrainHooks hooks;
    hooks.log = &log;
    charnn::train(c, charnn::test::builtin_plugins(), hooks);
    // The default run: runs/latest under the directory `charnn sample` runs in.
    fs::create_directories(dir_ / "runs");
    charnn::point_symlink(dir_ / "runs" / "latest", dir_ / "run");
  }
  const fs::path& dir() const { return dir_.path(); }
  fs::path run_dir() const { return dir_ / "run"; }

  // Runs `charnn sample ARGS` with the scratch directory as the working directory, `input` on its
  // standard input and `env` (NAME=VALUE ...) in its environment.
  Run sample(const std::string& args, const std::string& input = "",
             const std::string& env = "") const {
    Run r;
    const fs::path out = dir_ / "stdout", err = dir_ / "stderr", in = dir_ / "stdin";
    charnn::test::write_file(in, input);
    const std::string cmd = "cd " + sh_quote(dir_.path().string()) + " && " + env + " " +
                            sh_quote(CHARNN_EXE) + " sample " + args + " >" +
                            sh_quote(out.string()) + " 2>" + sh_quote(err.string()) + " <" +
                            sh_quote(in.string());
    const int status = std::system(cmd.c_str());
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = charnn::test::read_file(out);
    r.err = charnn::test::read_file(err);
    return r;
  }

 private:
  charnn::test::ScratchDir dir_;
};

const TrainedModel& trained() {
  static const TrainedModel model;
  return model;
}

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto p = text.find(what); p != std::string::npos; p = text.find(what, p + what.size())) ++n;
  return n;
}

}  // namespace

TEST_CASE("charnn sample continues a seed with the model just trained", "[sampler][cli]") {
  const auto& m = trained();

  SECTION("with no model flag it uses runs/latest and says so on stderr") {
    const Run r = m.sample("--seed 'the quick ' --length 60 --greedy");
    CAPTURE(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.err, Catch::Contains("best.ckpt"));
    // The seed, then exactly 60 units (all one byte here); the trained model has learnt the
    // sentence, so greedy continues it.
    CHECK(r.out.size() == 10 + 60);
    CHECK_THAT(r.out, Catch::StartsWith("the quick brown fox"));
  }
  SECTION("the same random seed gives the same text, whatever the thread count") {
    const std::string args = "--model " + sh_quote(m.run_dir().string()) +
                             " --seed 'the' --length 200 --temperature 1.5 --random-seed 99";
    const Run a = m.sample(args + " --threads 1");
    const Run b = m.sample(args + " --threads 2");
    const Run c = m.sample(args + " --random-seed 100");
    CAPTURE(a.err);
    REQUIRE(a.exit_code == 0);
    CHECK(a.out == b.out);
    CHECK(a.out != c.out);
    CHECK_THAT(a.err, Catch::Contains("random seed 99"));
    // Temperature 0 is greedy.
    CHECK(m.sample("--seed the --length 50 --temperature 0").out ==
          m.sample("--seed the --length 50 --greedy --random-seed 5").out);
  }
  SECTION("one stream writes the same text whichever kernels oneDNN may pick") {
    // On a CPU with AMX, one or two streams run on the AVX-512 kernels (faster there for one
    // row) unless the user caps oneDNN's ISA; the text must not depend on it.
    const std::string args = "--model " + sh_quote(m.run_dir().string()) +
                             " --seed 'the' --length 300 --temperature 1.2 --random-seed 7";
    const Run chosen = m.sample(args);
    const Run any = m.sample(args, "", "ONEDNN_MAX_CPU_ISA=ALL");
    CAPTURE(chosen.err, any.err);
    REQUIRE(chosen.exit_code == 0);
    REQUIRE(any.exit_code == 0);
    CHECK(chosen.out == any.out);
    CHECK_THAT(any.err, !Catch::Contains("AVX-512 kernels"));
    CHECK_THAT(m.sample(args + " --count 3").err, !Catch::Contains("AVX-512 kernels"));
  }
  SECTION("--beam writes the most likely continuation it finds and its bits per unit") {
    // --no-repeat 0: under the default (12) the sentence cannot come twice in 60 units, and
    // where the beam breaks it depends on the model's last digits.
    const Run r = m.sample("--seed 'the quick ' --length 60 --beam 4 --no-repeat 0");
    CAPTURE(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.size() == 10 + 60);
    CHECK_THAT(r.out, Catch::StartsWith("the quick brown fox"));
    CHECK_THAT(r.err, Catch::Contains("beam 4: 60 units") && Catch::Contains("bits per unit"));
    const Run j = m.sample("--seed 'the quick ' --length 20 --beam 2 --json");
    REQUIRE(j.exit_code == 0);
    const auto doc = nlohmann::json::parse(j.out);
    CHECK(doc.at("beam") == 2);
    CHECK(doc.at("units") == 20);
    CHECK(doc.at("bits_per_unit").get<double>() >= 0);
    const Run bad = m.sample("--seed the --beam 2 --temperature 0.5");
    CHECK(bad.exit_code == 2);
    CHECK_THAT(bad.err, Catch::Contains("--beam and --temperature"));
    const Run looped = m.sample("--seed 'the quick ' --length 80 --beam 2 --no-repeat 4 --json");
    REQUIRE(looped.exit_code == 0);
    CHECK(nlohmann::json::parse(looped.out).at("no_repeat") == 4);
    const Run alone = m.sample("--seed the --no-repeat 4");
    CHECK(alone.exit_code == 2);
    CHECK_THAT(alone.err, Catch::Contains("--no-repeat works with --beam"));
  }
  SECTION("--interactive continues each line read, keeping the state across turns") {
    // Through a pipe: two lines, two greedy turns of 12 units each.
    const Run r = m.sample("--interactive --greedy --length 12", "the quick \nthe lazy \n");
    CAPTURE(r.err);
    REQUIRE(r.exit_code == 0);
    const auto cut = r.out.find('\n');
    REQUIRE(cut != std::string::npos);
    const std::string first = r.out.substr(0, cut), second = r.out.substr(cut + 1);
    CHECK(first.size() == 12);
    CHECK_THAT(first, Catch::StartsWith("brown fox"));
    REQUIRE(second.size() == 13);  // 12 units and the line break that ends the turn
    // The second turn continued everything before it: the same as one greedy sample seeded
    // with the whole conversation.
    const Run whole = m.sample("--greedy --no-seed --length 12 --seed 'the quick " + first +
                               "the lazy '");
    CHECK(second == whole.out + "\n");
    const Run bad = m.sample("--interactive --count 2");
    CHECK(bad.exit_code == 2);
    CHECK_THAT(bad.err, Catch::Contains("--interactive and --count"));
  }
  SECTION("--count runs several samples, each under its own header") {
    const Run r = m.sample("--last --count 3 --length 40 --random-seed 1 --no-seed");
    CAPTURE(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.err, Catch::Contains("last.ckpt"));
    CHECK_THAT(r.out, Catch::StartsWith("--- sample 1/3 ---\n"));
    CHECK(count_of(r.out, "--- sample ") == 3);
    CHECK(r.out.find("--- sample 2/3 ---") < r.out.find("--- sample 3/3 ---"));
  }
  SECTION("--stop ends a sample once its text ends with the stop string") {
    const Run r = m.sample("--seed 'the lazy ' --length 300 --stop '\\n' --random-seed 3");
    CAPTURE(r.err);
    REQUIRE(r.exit_code == 0);
    const std::string continuation = r.out.substr(9);
    CHECK(count_of(continuation, "\n") == 1);
    CHECK(continuation.back() == '\n');
  }
  SECTION("--json gives every unit with its probability") {
    const Run r = m.sample("--seed fox --length 25 --json --random-seed 4 --top-k 3");
    CAPTURE(r.err);
    REQUIRE(r.exit_code == 0);
    const auto doc = nlohmann::ordered_json::parse(r.out);
    CHECK(doc["seed"] == "fox");
    CHECK(doc["random_seed"] == 4);
    CHECK(doc["policy"]["top_k"] == 3);
    REQUIRE(doc["samples"].is_array());
    REQUIRE(doc["samples"].size() == 1);
    const auto& units = doc["samples"][0]["units"];
    CHECK(units.size() == 25);
    std::size_t with_p = 0;
    for (const auto& u : units) with_p += u.contains("u") && u["p"].is_number();
    CHECK(with_p == 25);
  }
  SECTION("an empty seed and a seed from a file work") {
    const Run r = m.sample("--length 30 --random-seed 2");
    CAPTURE(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.size() == 30);
    charnn::test::write_file(m.dir() / "seed.txt", "the quick\r\n");  // CRLF, cleaned to LF
    const Run f = m.sample("--seed-file seed.txt --length 5 --greedy");
    CAPTURE(f.err);
    REQUIRE(f.exit_code == 0);
    CHECK_THAT(f.out, Catch::StartsWith("the quick\n"));
  }
  SECTION("unknown seed units are listed, or skipped with --unknown skip") {
    const Run r = m.sample("--seed 'the zebra?' --length 10");  // 'z' is in the corpus; '?' not
    CHECK(r.exit_code == 1);
    CHECK(r.out.empty());
    CHECK_THAT(r.err, Catch::Contains("error:") && Catch::Contains("'?'") &&
                          Catch::Contains("--unknown skip"));
    const Run s = m.sample("--seed 'the zebra?' --length 10 --unknown skip");
    CAPTURE(s.err);
    CHECK(s.exit_code == 0);
    CHECK_THAT(s.err, Catch::Contains("skipped 1 seed unit"));
    CHECK(s.out.size() == 10 + 10);                              // the seed is printed as given
    CHECK(m.sample("--seed '?' --unknown map").exit_code == 1);  // no unknown symbol
  }
  SECTION("--precision f32 and bf16 give the same greedy text from the trained model") {
    const Run f = m.sample("--seed 'the quick ' --length 120 --greedy --precision f32");
    const Run b = m.sample("--seed 'the quick ' --length 120 --greedy --precision bf16");
    CAPTURE(f.err, b.err);
    REQUIRE(f.exit_code == 0);
    REQUIRE(b.exit_code == 0);
    CHECK_THAT(f.err, Catch::Contains("step weights f32"));
    CHECK_THAT(b.err, Catch::Contains("step weights bf16") || Catch::Contains("step weights f32"));
    if (b.err.find("step weights bf16") == std::string::npos)  // no native bfloat16: says why
      CHECK_THAT(b.err, Catch::Contains("step weights f32 (bf16 was asked for") &&
                            Catch::Contains("AVX512_BF16"));
    CHECK(f.out == b.out);
    // The same random seed reproduces with bf16 too, whatever the thread count.
    const std::string args =
        "--seed 'the' --length 150 --temperature 1.5 --random-seed 8 "
        "--precision bf16 --threads ";
    CHECK(m.sample(args + "1").out == m.sample(args + "2").out);
  }
  SECTION("invalid options are clear errors") {
    for (const char* bad :
         {"--top-p 1.5", "--top-p 0", "--temperature -1", "--top-k 0", "--count 0",
          "--unknown ignore", "--best --last", "--model no-such-run", "--precision fp16"}) {
      const Run r = m.sample(bad);
      CAPTURE(bad, r.err);
      CHECK(r.exit_code == 1);
      CHECK(r.out.empty());
      CHECK_THAT(r.err, Catch::StartsWith("charnn sample: error: "));
      CHECK_THAT(r.err, Catch::Contains("hint: "));
    }
  }
}

TEST_CASE("charnn sample exits quietly when its reader closes the pipe", "[sampler][cli]") {
  const auto& m = trained();
  // Far more text than head wants: the writes after head exits fail with EPIPE.
  const fs::path status = m.dir() / "status", err = m.dir() / "pipe-stderr";
  const std::string cmd = "cd " + sh_quote(m.dir().string()) + " && (" + sh_quote(CHARNN_EXE) +
                          " sample --length 5000000 --random-seed 1 2>" + sh_quote(err.string()) +
                          "; echo $? >" + sh_quote(status.string()) + ") | head -c 10 >/dev/null";
  REQUIRE(std::system(("/bin/sh -c " + sh_quote(cmd)).c_str()) == 0);
  const std::string code = charnn::test::read_file(status);
  const std::string message = charnn::test::read_file(err);
  CAPTURE(message);
  CHECK((code == "0\n" || code == "141\n"));
  // Only the one line naming the checkpoint: no error about the closed pipe.
  CHECK(count_of(message, "\n") == 1);
  CHECK_THAT(message, !Catch::Contains("error"));
}
