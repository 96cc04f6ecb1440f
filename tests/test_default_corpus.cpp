// corpora/assemble-default.sh, which builds the default corpus from Debian's fortune files: run
// on a made-up fortune directory, it must repair what is broken in the real one (overstrikes,
// stray control characters, mojibake) and leave real text alone.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>

#include "training_support.hpp"

using charnn::test::read_file;
using charnn::test::write_file;

TEST_CASE("the default corpus assembler repairs overstrikes, controls and mojibake",
          "[corpus]") {
  charnn::test::ScratchDir dir("default-corpus");
  const auto fortunes = dir.path() / "fortunes";
  std::filesystem::create_directories(fortunes);
  // The script refuses fewer than 100,000 bytes (an incomplete package): pad with quotations.
  std::string filler;
  while (filler.size() < 110000) filler += "%\nA plain quotation.\n";
  // "don't" with U+2019 encoded twice over (UTF-8 read as Latin-1, twice), "£5" and "ß" once,
  // "über" and "état" real Latin-1 letters, a BEL, a C1 control, and an underlined word.
  const std::string mojibake =
      "Here\xC3\x83\xC2\xA2\xC3\x82\xC2\x80\xC3\x82\xC2\x99s the thing\n"
      "a fine of \xC3\x82\xC2\xA3" "5\n"
      "Linuxkongre\xC3\x83\xC2\x9F '95\n"
      "\xC3\xBC" "ber mir, coup d'\xC3\xA9tat\n"
      "ring\x07 the bell\xC2\x9D\n"
      "an _\b_\b_\bold word\n";
  write_file(fortunes / "a", mojibake + filler);
  write_file(fortunes / "b", "%\nThe last quotation, without a final newline");
  write_file(fortunes / "a.dat", "index: must be skipped\n");
  write_file(fortunes / "a.u8", "a copy: must be skipped\n");

  const auto out = dir.path() / "fortunes.txt";
  const std::string cmd = "FORTUNES_DIR='" + fortunes.string() + "' '" CHARNN_SOURCE_DIR
                          "/corpora/assemble-default.sh' '" + out.string() + "' 2>/dev/null";
  REQUIRE(std::system(cmd.c_str()) == 0);
  const std::string text = read_file(out);

  const std::string expected_head =
      "Here\xE2\x80\x99s the thing\n"
      "a fine of \xC2\xA3" "5\n"
      "Linuxkongre\xC3\x9F '95\n"
      "\xC3\xBC" "ber mir, coup d'\xC3\xA9tat\n"
      "ring the bell\n"
      "an old word\n"
      "\nA plain quotation.\n";
  CHECK(text.substr(0, expected_head.size()) == expected_head);
  CHECK(text.size() > 100000);
  CHECK(text.ends_with("\nThe last quotation, without a final newline\n"));
  CHECK(text.find("skipped") == std::string::npos);

  // Idempotent: a second run leaves the file as it is.
  REQUIRE(std::system(cmd.c_str()) == 0);
  CHECK(read_file(out) == text);
}
