// The dump and inspect commands as a user runs them, on an untrained checkpoint: bad input
// gives one clear line and leaves no partial output.
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>

#include "inspect_support.hpp"

using namespace charnn::inspect_test;

TEST_CASE("inspect and dump give one clear line for bad input and leave no partial output",
          "[inspect][cli]") {
  const fs::path dir = temp_dir("cli");
  const std::string vocab_text = "ab \"cd\" (e).\nf";
  untrained_checkpoint(dir, vocab_text);
  write_file(dir / "text.txt", "ab \"cd\"\n(e). fab\n");
  write_file(dir / "empty.txt", "");
  write_file(dir / "unknown.txt", "abZ cdQ\n");
  const std::string model = "--model model-lstm.ckpt ";

  auto one_error_line = [](const Run& r) {
    CHECK(r.code != 0);
    CHECK_THAT(r.err, Catch::Contains("error:"));
    // One error line, maybe a hint line, nothing else (no progress noise, no trace).
    std::size_t lines = 0;
    for (char c : r.err) lines += c == '\n';
    CHECK(lines <= 3);
  };

  Run r = run_charnn("inspect " + model + "--text text.txt --html report.html", dir);
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK_THAT(r.out, Catch::Contains("in_quotes") && Catch::Contains("HTML report: "));
  CHECK_THAT(slurp(dir / "report.html"), Catch::StartsWith("<!DOCTYPE html>"));

  r = run_charnn("inspect " + model + "--text empty.txt", dir);
  one_error_line(r);
  CHECK_THAT(r.err, Catch::Contains("empty.txt") && Catch::Contains("empty"));

  r = run_charnn("inspect " + model + "--text unknown.txt --html failed.html", dir);
  one_error_line(r);
  for (const auto& e : fs::directory_iterator(dir))  // not even a temporary
    CHECK(e.path().filename().string().rfind("failed.html", 0) == std::string::npos);
  CHECK_THAT(r.err, Catch::Contains("Z") && Catch::Contains("Q") && Catch::Contains("--unknown"));
  r = run_charnn("inspect " + model + "--text unknown.txt --unknown skip", dir);
  CHECK(r.code == 0);
  CHECK_THAT(r.err, Catch::Contains("skipped 2 unit"));

  r = run_charnn("inspect " + model + "--text text.txt --html no/such/dir/r.html", dir);
  one_error_line(r);
  CHECK_THAT(r.err, Catch::Contains("cannot write") && Catch::Contains("r.html"));

  r = run_charnn("inspect " + model + "--text text.txt --probe 'bad=a(b'", dir);
  one_error_line(r);
  CHECK_THAT(r.err, Catch::Contains("bad"));

  r = run_charnn("inspect " + model + "--text text.txt --select-span 9:3", dir);
  one_error_line(r);
  CHECK_THAT(r.err, Catch::Contains("9:3") && Catch::Contains("0:17"));
  r = run_charnn("inspect " + model + "--text text.txt --select zzz", dir);
  one_error_line(r);
  CHECK_THAT(r.err, Catch::Contains("/zzz/") && Catch::Contains("marks no unit"));
  r = run_charnn("inspect " + model +
                     "--text text.txt --no-builtin --select '\\(e\\)' "
                     "--html sel.html",
                 dir);
  REQUIRE(r.code == 0);
  CHECK_THAT(r.out, Catch::Contains("selection /\\(e\\)/") && !Catch::Contains("in_quotes"));
  CHECK_THAT(slurp(dir / "sel.html"), Catch::Contains("id=selection-1"));

  untrained_checkpoint(dir, vocab_text, "nosuchcell");
  r = run_charnn("inspect --model model-nosuchcell.ckpt --text text.txt", dir);
  one_error_line(r);
  CHECK_THAT(r.err, Catch::Contains("nosuchcell"));
  r = run_charnn("dump --model model-nosuchcell.ckpt --text text.txt --out d", dir);
  one_error_line(r);
  CHECK_THAT(r.err, Catch::Contains("nosuchcell"));

  r = run_charnn("dump " + model + "--text empty.txt --out d1", dir);
  one_error_line(r);
  CHECK_FALSE(fs::exists(dir / "d1"));
  r = run_charnn("dump " + model + "--text text.txt --out text.txt/sub", dir);
  one_error_line(r);
  CHECK_THAT(r.err, Catch::Contains("text.txt/sub"));
  r = run_charnn("dump " + model + "--text text.txt --out d2 --signal zz", dir);
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Catch::Contains("zz") && Catch::Contains("available"));

  r = run_charnn("dump " + model + "--text text.txt --out d3 --layer 1 --signal h,c", dir);
  CHECK(r.code == 0);
  CHECK(fs::exists(dir / "d3" / "layer1_h.npy"));
  CHECK(fs::exists(dir / "d3" / "layer1_c.npy"));
  CHECK(fs::exists(dir / "d3" / "units.json"));
  CHECK_FALSE(fs::exists(dir / "d3" / "layer0_h.npy"));
  fs::remove_all(dir);
}
