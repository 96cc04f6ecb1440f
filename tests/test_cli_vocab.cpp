// `charnn vocab` as a user runs it: the real program (CHARNN_EXE) on good and bad inputs.
// Bad inputs must give one error line naming the file (plus an optional hint line), exit code 1
// (2 for a bad command line), and nothing on stdout.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "shared_data.hpp"

namespace fs = std::filesystem;

namespace {

struct Run {
  int exit_code = -1;
  std::string out, err;
  std::set<std::string> new_files;  // files that appeared in the scratch directory
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

struct CliFixture {
  fs::path dir;
  CliFixture() {
    dir = fs::temp_directory_path() / ("charnn-test-cli-vocab-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~CliFixture() {
    std::error_code ec;
    fs::permissions(dir, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(dir, ec);
  }
  fs::path write(const std::string& name, const std::string& bytes) const {
    fs::path p = dir / name;
    std::ofstream(p, std::ios::binary) << bytes;
    return p;
  }
  Run run(const std::string& args) const {
    Run r;
    const auto before = listing();
    const fs::path out = dir / "stdout", err = dir / "stderr";
    const std::string cmd = quote(CHARNN_EXE) + " vocab " + args + " >" + quote(out.string()) +
                            " 2>" + quote(err.string()) + " </dev/null";
    const int status = std::system(cmd.c_str());
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = slurp(out);
    r.err = slurp(err);
    fs::remove(out);
    fs::remove(err);
    for (const auto& f : listing())
      if (!before.count(f)) r.new_files.insert(f);
    return r;
  }
  std::set<std::string> listing() const {
    std::set<std::string> names;
    for (const auto& e : fs::recursive_directory_iterator(dir)) names.insert(e.path().string());
    return names;
  }
};

std::size_t lines(const std::string& s) {
  return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n'));
}

// The failure contract: exit code, an error line that names what, nothing on stdout.
void check_failure(const Run& r, int code, const std::string& must_name,
                   const std::string& reason) {
  CAPTURE(r.err);
  CHECK(r.exit_code == code);
  CHECK(r.out.empty());
  CHECK_THAT(r.err, Catch::StartsWith("charnn vocab: "));
  const std::string first = r.err.substr(0, r.err.find('\n'));
  CHECK_THAT(first, Catch::Contains(must_name) && Catch::Contains(reason));
  CHECK(lines(r.err) >= 1);
  CHECK(lines(r.err) <= 2);  // the error, and a hint
  CHECK_THAT(r.err, !Catch::Contains("internal error"));
  CHECK(r.new_files.empty());  // no partial output anywhere
}

}  // namespace

TEST_CASE_METHOD(CliFixture, "charnn vocab shows the vocabulary of a small corpus",
                 "[cli][vocab]") {
  auto file = write("small.txt", std::string(100, 'a') + "bbbbbcc\r\nd\xC3\xA9\xCC\x81\n");
  auto r = run(quote(file.string()));
  CAPTURE(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.empty());
  CHECK_THAT(r.out, Catch::Contains("grapheme clusters, NFC, line ends as LF"));
  CHECK_THAT(r.out, Catch::Contains("vocabulary   6 ids"));
  CHECK_THAT(r.out, Catch::Contains("'\\n'"));
  CHECK_THAT(r.out, Catch::Contains("split        train 101, valid 5, test 5 units"));

  auto j = run("--json --units codepoint --normalize none --min-count 2 " + quote(file.string()));
  CAPTURE(j.err);
  REQUIRE(j.exit_code == 0);
  const auto doc = nlohmann::ordered_json::parse(j.out);
  CHECK(doc.begin().key() == "files");
  CHECK(doc["files"].is_array());
  CHECK(doc["units"] == "codepoint");
  CHECK(doc["normalize"] == "none");
  CHECK(doc["vocab"]["format"] == "charnn-vocab");
  CHECK(doc["unknown"]["id"] == 4);
  CHECK(doc["unknown"]["distinct_units"] == 3);
  // d, é, U+0301 occur once and map to the unknown symbol: a, b, \n, c remain.
  CHECK(doc["vocab_size"] == 5);
}

TEST_CASE_METHOD(CliFixture, "charnn vocab --help shows defaults and an example", "[cli][vocab]") {
  auto r = run("--help");
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("--units grapheme|codepoint|byte (=grapheme)") &&
                        Catch::Contains("--split TRAIN,VALID,TEST (=0.9,0.05,0.05)") &&
                        Catch::Contains("Example:"));
}

TEST_CASE_METHOD(CliFixture, "charnn vocab rejects each kind of bad input cleanly",
                 "[cli][vocab]") {
  SECTION("a missing file") {
    auto p = dir / "nope.txt";
    check_failure(run(quote(p.string())), 1, p.string(), "no such file");
  }
  SECTION("a directory") {
    check_failure(run(quote(dir.string())), 1, dir.string(), "is a directory");
  }
  SECTION("an empty file") {
    auto p = write("empty.txt", "");
    check_failure(run(quote(p.string())), 1, p.string(), "is empty");
  }
  SECTION("a binary file with NUL bytes") {
    auto p = write("binary.dat", std::string("\x7F"
                                             "ELF\x02\x01\x01\0\0\0",
                                             10));
    check_failure(run(quote(p.string())), 1, p.string() + ":1:8 (byte 7)", "NUL byte");
  }
  SECTION("invalid UTF-8") {
    auto p = write("latin1.txt", "ok\nna\xEFve\n" + std::string(60, '.'));  // ï in Latin-1
    check_failure(run(quote(p.string())), 1, p.string() + ":2:3 (byte 5)", "invalid UTF-8");
    auto fixed = run("--on-invalid replace " + quote(p.string()));
    CHECK(fixed.exit_code == 0);
  }
  SECTION("a file it may not read") {
    if (::geteuid() == 0) {
      WARN("skipped: running as root, which can read any file");
      return;
    }
    auto p = write("secret.txt", "hidden\n");
    fs::permissions(p, fs::perms::none);
    check_failure(run(quote(p.string())), 1, p.string(), "permission denied");
  }
  SECTION("a corpus too short for the split") {
    auto p = write("short.txt", "tiny\n");
    check_failure(run(quote(p.string())), 1, "has 5 units", "at least 40");
  }
  SECTION("bad option values and missing files are command-line errors") {
    auto p = write("ok.txt", std::string(100, 'x'));
    check_failure(run("--units letters " + quote(p.string())), 2, "letters", "unit kind");
    check_failure(run("--split 0.9,0.2,0.1 " + quote(p.string())), 2, "0.9", "sum to 1");
    check_failure(run("--min-count 0 " + quote(p.string())), 2, "min-count", "at least 1");
    check_failure(run(""), 2, "no corpus file", "given");
    auto unknown = run("--frobnicate " + quote(p.string()));
    CHECK(unknown.exit_code == 2);
    CHECK(unknown.out.empty());
  }
}

TEST_CASE_METHOD(CliFixture, "charnn vocab reads war and peace as clean text",
                 "[cli][vocab][shared]") {
  if (!charnn::test::have_shared_corpus("warpeace.txt")) return;
  auto r = run("--json " + quote(charnn::test::shared_corpus("warpeace.txt").string()));
  CAPTURE(r.err);
  REQUIRE(r.exit_code == 0);
  const auto doc = nlohmann::ordered_json::parse(r.out);
  CHECK(doc["units"] == "grapheme");
  std::set<std::string> shown;
  for (const auto& e : doc["vocab"]["entries"]) shown.insert(e["shown"].get<std::string>());
  CHECK(shown.count("\\r") == 0);  // no CR unit
  CHECK(shown.count("\\n") == 1);  // but LF
}
