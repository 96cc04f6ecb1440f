// The text layer: cleaning (BOM, line ends, NFC), UTF-8 validation with exact positions,
// streaming across chunk and file boundaries, unit segmentation and escaping.
#include <charnn/error.hpp>
#include <charnn/text.hpp>
#include <charnn/vocab.hpp>

#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "../libs/charnn/src/text_internal.hpp"  // the segmenter, to shrink its ICU window
#include "shared_data.hpp"

namespace fs = std::filesystem;
using charnn::Normalization;
using charnn::OnInvalid;
using charnn::TextOptions;
using charnn::UnitKind;

namespace {

// A scratch directory per test case, removed afterwards.
struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& name) {
    path =
        fs::temp_directory_path() / ("charnn-test-text-" + std::to_string(::getpid()) + "-" + name);
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path write(const std::string& name, const std::string& bytes) const {
    fs::path p = path / name;
    std::ofstream(p, std::ios::binary) << bytes;
    return p;
  }
};

std::vector<std::string> units_of(std::string_view text, UnitKind kind) {
  std::vector<std::string> out;
  charnn::for_each_unit(text, kind, [&](std::string_view u) { out.emplace_back(u); });
  return out;
}

std::string join(const std::vector<std::string>& parts) {
  std::string s;
  for (const auto& p : parts) s += p;
  return s;
}

TextOptions with(UnitKind kind, Normalization n = Normalization::nfc) {
  TextOptions o;
  o.units = kind;
  o.normalize = n;
  return o;
}

// Reads files with a given chunk size, checking that every chunk is valid UTF-8 and that
// segmenting chunk by chunk gives the same units as segmenting the whole text.
std::string read_in_chunks(const std::vector<fs::path>& files, const TextOptions& o,
                           std::size_t chunk_bytes, std::vector<std::string>* units = nullptr) {
  charnn::TextReader reader(files, o, chunk_bytes);
  std::string text, chunk;
  while (reader.next(chunk)) {
    REQUIRE_FALSE(chunk.empty());
    // Valid UTF-8 (the "x" keeps a U+FEFF at the start of a chunk from being taken for a BOM).
    TextOptions as_is = o;
    as_is.normalize = Normalization::none;
    as_is.on_invalid = OnInvalid::error;
    REQUIRE(charnn::clean_text("x" + chunk, as_is) == "x" + chunk);
    if (units) {
      auto u = units_of(chunk, o.units);
      units->insert(units->end(), u.begin(), u.end());
    }
    text += chunk;
  }
  return text;
}

// The message of the charnn::error that fn throws.
template <typename Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const charnn::error& e) {
    return e.what();
  }
  FAIL("no charnn::error was thrown");
  return {};
}

const char* const kFamily =
    "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7";

}  // namespace

TEST_CASE("ascii text round-trips through the reader, every unit kind and the vocabulary",
          "[text]") {
  TempDir dir("ascii");
  const std::string text = "Hello, world!\nThe quick brown fox\tjumps over the lazy dog.\n";
  auto file = dir.write("a.txt", text);
  for (auto kind : {UnitKind::grapheme, UnitKind::codepoint, UnitKind::byte}) {
    CAPTURE(charnn::to_string(kind));
    const std::string read = charnn::read_text({file}, with(kind));
    REQUIRE(read == text);
    auto units = units_of(read, kind);
    CHECK(units.size() == text.size());  // one unit per ASCII character
    CHECK(join(units) == text);
    charnn::UnitCounter counter(kind);
    counter.add_text(read);
    auto vocab = charnn::Vocab::build(counter, with(kind));
    CHECK(vocab.decode(vocab.encode(read)) == text);
  }
}

TEST_CASE("a BOM is stripped and CR and CRLF line ends become LF", "[text]") {
  const std::string raw =
      "\xEF\xBB\xBF"
      "a\r\nb\rc\n\rd\r";
  CHECK(charnn::clean_text(raw, {}) == "a\nb\nc\n\nd\n");
  TextOptions keep;
  keep.normalize_newlines = false;
  CHECK(charnn::clean_text(raw, keep) == "a\r\nb\rc\n\rd\r");
  // CR LF kept is one grapheme cluster (UAX #29 GB3).
  CHECK(units_of("a\r\nb", UnitKind::grapheme) == std::vector<std::string>{"a", "\r\n", "b"});
  // A BOM anywhere but the start is text (U+FEFF), not a marker.
  CHECK(charnn::clean_text("a\xEF\xBB\xBF", {}) == "a\xEF\xBB\xBF");
}

TEST_CASE("NFC composes combining accents and normalize none keeps them", "[text]") {
  const std::string decomposed = "e\xCC\x81";  // e + U+0301 COMBINING ACUTE ACCENT
  const std::string composed = "\xC3\xA9";     // U+00E9
  CHECK(charnn::clean_text(decomposed, {}) == composed);
  CHECK(charnn::clean_text(decomposed, with(UnitKind::grapheme, Normalization::none)) ==
        decomposed);
  // Either way it is one user-perceived character; only code points see the difference.
  CHECK(units_of(composed, UnitKind::grapheme).size() == 1);
  CHECK(units_of(decomposed, UnitKind::grapheme).size() == 1);
  CHECK(units_of(composed, UnitKind::codepoint).size() == 1);
  CHECK(units_of(decomposed, UnitKind::codepoint).size() == 2);
  // Composition across a cut: a mark at the start of a second file joins the first file's end.
  TempDir dir("nfc");
  auto a = dir.write("a.txt", "caf"), b = dir.write("b.txt",
                                                    "e\xCC\x81"
                                                    "s");
  CHECK(charnn::read_text({a, b}, {}) == "caf\xC3\xA9s");
}

TEST_CASE("thai clusters and emoji ZWJ sequences round-trip and count as users see them",
          "[text]") {
  // A family is one cluster of five code points; a Thai consonant with its vowel and tone
  // marks is one cluster; flags pair up regional indicators; a skin tone joins its emoji.
  CHECK(units_of(kFamily, UnitKind::grapheme).size() == 1);
  CHECK(units_of(kFamily, UnitKind::codepoint).size() == 5);
  CHECK(units_of(kFamily, UnitKind::byte).size() == 18);
  const std::string ki = "\xE0\xB8\x81\xE0\xB8\xB4";               // กิ
  const std::string nam = "\xE0\xB8\x99\xE0\xB9\x89\xE0\xB8\xB3";  // น้ำ
  CHECK(units_of(ki, UnitKind::grapheme) == std::vector<std::string>{ki});
  CHECK(units_of(nam, UnitKind::grapheme) == std::vector<std::string>{nam});
  const std::string flags = "\xF0\x9F\x87\xAB\xF0\x9F\x87\xB7\xF0\x9F\x87\xA9\xF0\x9F\x87\xAA";
  CHECK(units_of(flags, UnitKind::grapheme).size() == 2);
  const std::string thumbs = "\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD";  // 👍🏽
  CHECK(units_of(thumbs, UnitKind::grapheme).size() == 1);

  const std::string text = std::string("Family: ") + kFamily + " " + thumbs + " " + flags + "\n" +
                           ki + nam + " " + kFamily + kFamily + "\n";
  TempDir dir("emoji");
  auto file = dir.write("e.txt", text);
  for (auto kind : {UnitKind::grapheme, UnitKind::codepoint, UnitKind::byte}) {
    CAPTURE(charnn::to_string(kind));
    for (std::size_t chunk : {1u, 2u, 3u, 5u, 7u, 64u}) {
      CAPTURE(chunk);
      std::vector<std::string> units;
      REQUIRE(read_in_chunks({file}, with(kind), chunk, &units) == text);
      CHECK(units == units_of(text, kind));
    }
    charnn::UnitCounter counter(kind);
    counter.add_text(text);
    auto vocab = charnn::Vocab::build(counter, with(kind));
    CHECK(vocab.decode(vocab.encode(text)) == text);
  }
  auto graphemes = units_of(text, UnitKind::grapheme);
  CHECK(std::count(graphemes.begin(), graphemes.end(), std::string(kFamily)) == 3);
}

TEST_CASE("streaming gives the same text and units at every chunk size and file cut", "[text]") {
  // Everything that can straddle a cut: CR LF, multi-byte sequences, a BOM, combining
  // sequences NFC reorders and composes, ZWJ sequences and flags.
  const std::string raw = std::string("\xEF\xBB\xBF") + "line one\r\nline two\rthree " +
                          "e\xCC\x81\xCC\xA3 a\xCC\x8A" + kFamily + "\r" +
                          "\xF0\x9F\x87\xAB\xF0\x9F\x87\xB7 \xE0\xB8\x99\xE0\xB9\x89\xE0\xB8\xB3" +
                          "\r\n\r\nend";
  for (auto norm : {Normalization::nfc, Normalization::none}) {
    for (auto kind : {UnitKind::grapheme, UnitKind::codepoint, UnitKind::byte}) {
      const TextOptions o = with(kind, norm);
      const std::string expected = charnn::clean_text(raw, o);
      CHECK(expected.find('\r') == std::string::npos);
      const auto expected_units = units_of(expected, kind);
      TempDir dir("chunks");
      auto whole = dir.write("whole.txt", raw);
      for (std::size_t chunk = 1; chunk <= 24; ++chunk) {
        CAPTURE(charnn::to_string(kind), charnn::to_string(norm), chunk);
        std::vector<std::string> units;
        REQUIRE(read_in_chunks({whole}, o, chunk, &units) == expected);
        REQUIRE(units == expected_units);
      }
      // Two files cut at every code point after the BOM: normalisation and segmentation run over
      // the concatenation, so only a cut between CR and LF changes the text (each file's CR ends a
      // line on its own, and the LF starting the next file is a second line end).
      for (std::size_t cut = 4; cut < raw.size(); ++cut) {
        if (raw[cut - 1] == '\r' && raw[cut] == '\n') continue;
        if ((static_cast<unsigned char>(raw[cut]) & 0xC0) == 0x80) continue;  // mid-sequence
        CAPTURE(charnn::to_string(kind), charnn::to_string(norm), cut);
        auto a = dir.write("a.txt", raw.substr(0, cut));
        auto b = dir.write("b.txt", raw.substr(cut));
        std::vector<std::string> units;
        REQUIRE(read_in_chunks({a, b}, o, 5, &units) == expected);
        REQUIRE(units == expected_units);
      }
    }
  }
}

TEST_CASE("invalid UTF-8 is reported with file, byte offset, line and column", "[text]") {
  TempDir dir("invalid");
  // Line 3 (CR LF and CR each end one line), column 4 counts code points: "ü" is one.
  const std::string raw = "ab\r\nc\r\xC3\xBCxy\xC3(z";
  auto file = dir.write("bad.txt", raw);
  const std::string where = file.string() + ":3:4 (byte 10)";
  for (std::size_t chunk : {1u, 3u, 1u << 20}) {
    CAPTURE(chunk);
    const std::string msg = error_of([&] { read_in_chunks({file}, {}, chunk); });
    CHECK_THAT(msg, Catch::Contains(where) && Catch::Contains("invalid UTF-8") &&
                        Catch::Contains("0xC3 0x28"));
  }
  // The same text in memory names its source instead of a file.
  CHECK_THAT(error_of([&] { charnn::clean_text(raw, {}, "--seed"); }),
             Catch::StartsWith("--seed:3:4 (byte 10)"));
  // A BOM counts in byte offsets but not in columns; a sequence cut off by the end of the file
  // is reported where it starts.
  CHECK_THAT(error_of([&] { charnn::clean_text("\xEF\xBB\xBFok\xF0\x9F\x98", {}); }),
             Catch::Contains("text:1:3 (byte 5)") && Catch::Contains("truncated"));
  // Overlong forms, surrogates and code points past U+10FFFF are invalid too.
  for (std::string bad : {"\xC0\xAF", "\xE0\x80\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xFF"}) {
    CHECK_THROWS_AS(charnn::clean_text("x" + bad, {}), charnn::error);
  }
}

TEST_CASE("on-invalid replace substitutes U+FFFD for each maximal invalid subpart", "[text]") {
  TextOptions o;
  o.on_invalid = OnInvalid::replace;
  const std::string r = "\xEF\xBF\xBD";
  CHECK(charnn::clean_text("a\xC3(b", o) == "a" + r + "(b");
  CHECK(charnn::clean_text("a\xF0\x9F\x98", o) == "a" + r);       // truncated: one U+FFFD
  CHECK(charnn::clean_text("\xE0\x80", o) == r + r);              // E0 80 is not a prefix
  CHECK(charnn::clean_text("\xED\xA0\x80", o) == r + r + r);      // surrogate
  CHECK(charnn::clean_text("\xF1\x80\x80\xE1\x80", o) == r + r);  // two truncated sequences
  TempDir dir("replace");
  auto file = dir.write("r.txt", "\xEF\xBB\xBFok\xFF\xFEthen \xF0\x9F\x98\x80!");
  for (std::size_t chunk : {1u, 2u, 4u, 64u})
    CHECK(read_in_chunks({file}, o, chunk) == "ok" + r + r + "then \xF0\x9F\x98\x80!");
}

TEST_CASE("unreadable inputs give one clear error naming the file", "[text]") {
  TempDir dir("bad-input");
  const auto missing = dir.path / "missing.txt";
  CHECK_THAT(error_of([&] { charnn::read_text({missing}, {}); }),
             Catch::Contains(missing.string()) && Catch::Contains("no such file"));
  CHECK_THAT(error_of([&] { charnn::read_text({dir.path}, {}); }),
             Catch::Contains(dir.path.string()) && Catch::Contains("is a directory"));
  auto empty = dir.write("empty.txt", "");
  CHECK_THAT(error_of([&] { charnn::read_text({empty}, {}); }),
             Catch::Contains(empty.string()) && Catch::Contains("is empty"));
  auto bom = dir.write("bom.txt", "\xEF\xBB\xBF");
  CHECK_THAT(error_of([&] { charnn::read_text({bom}, {}); }), Catch::Contains("contains no text"));
  auto nul = dir.write("nul.bin", std::string("ab\ncd\0ef", 8));
  CHECK_THAT(error_of([&] { charnn::read_text({nul}, {}); }),
             Catch::Contains(nul.string() + ":2:3 (byte 5)") && Catch::Contains("NUL byte"));
  // Replacing invalid UTF-8 does not make a binary file text.
  TextOptions replace;
  replace.on_invalid = OnInvalid::replace;
  CHECK_THROWS_AS(charnn::read_text({nul}, replace), charnn::error);
  // A bad file later in the list is found before any text is read.
  auto good = dir.write("good.txt", "fine\n");
  CHECK_THAT(error_of([&] {
               charnn::TextReader({good, missing}, {});
             }),
             Catch::Contains("missing.txt"));
  CHECK_THROWS_AS(charnn::TextReader({}, {}), charnn::error);
}

TEST_CASE("unit boundaries mark where each unit starts", "[text]") {
  const std::string text = std::string("a") + kFamily + "e\xCC\x81\n";
  auto b = charnn::unit_boundaries(text, UnitKind::grapheme);
  CHECK(b == std::vector<std::uint64_t>{0, 1, 19, 22, 23});
  CHECK(charnn::unit_boundaries("", UnitKind::grapheme) == std::vector<std::uint64_t>{0});
  CHECK(charnn::unit_boundaries("ab", UnitKind::byte).size() == 3);
}

TEST_CASE("escaped units show invisible characters and lone marks", "[text]") {
  CHECK(charnn::escape_unit("a") == "a");
  CHECK(charnn::escape_unit(" ") == " ");
  CHECK(charnn::escape_unit("\n") == "\\n");
  CHECK(charnn::escape_unit("\t") == "\\t");
  CHECK(charnn::escape_unit("\r\n") == "\\r\\n");
  CHECK(charnn::escape_unit("\\") == "\\\\");
  CHECK(charnn::escape_unit(std::string(1, '\x07')) == "\\u0007");
  CHECK(charnn::escape_unit("\xC2\xA0") == "\\u00A0");      // no-break space
  CHECK(charnn::escape_unit("\xCC\x81") == "\\u0301");      // lone combining acute
  CHECK(charnn::escape_unit("e\xCC\x81") == "e\xCC\x81");   // attached: shown as is
  CHECK(charnn::escape_unit("\xE2\x80\x8D") == "\\u200D");  // lone ZWJ
  CHECK(charnn::escape_unit(kFamily) == kFamily);           // joiners inside stay
  CHECK(charnn::escape_unit("\xE0\xB8\x99\xE0\xB9\x89\xE0\xB8\xB3") ==
        "\xE0\xB8\x99\xE0\xB9\x89\xE0\xB8\xB3");
  CHECK(charnn::escape_unit("\xC3") == "\\xC3");                    // a lone byte
  CHECK(charnn::escape_unit("\xF3\xA0\x80\x81") == "\\U000E0001");  // language tag (format)
}

TEST_CASE("option names parse and print back", "[text]") {
  for (auto k : {UnitKind::grapheme, UnitKind::codepoint, UnitKind::byte})
    CHECK(charnn::parse_unit_kind(charnn::to_string(k)) == k);
  for (auto n : {Normalization::nfc, Normalization::none})
    CHECK(charnn::parse_normalization(charnn::to_string(n)) == n);
  for (auto v : {OnInvalid::error, OnInvalid::replace})
    CHECK(charnn::parse_on_invalid(charnn::to_string(v)) == v);
  CHECK_THROWS_AS(charnn::parse_unit_kind("char"), charnn::error);
  CHECK_THROWS_AS(charnn::parse_normalization("nfd"), charnn::error);
  CHECK_THROWS_AS(charnn::parse_on_invalid("skip"), charnn::error);
}

TEST_CASE("war and peace comes out as clean LF text and round-trips", "[text][shared]") {
  if (!charnn::test::have_shared_corpus("warpeace.txt")) return;
  const auto path = charnn::test::shared_corpus("warpeace.txt");
  const std::string text = charnn::read_text({path}, {});
  REQUIRE(text.size() > 3'000'000);
  CHECK(text.find('\r') == std::string::npos);
  CHECK(text.rfind("\xEF\xBB\xBF", 0) == std::string::npos);  // no BOM
  CHECK(std::count(text.begin(), text.end(), '\n') > 50'000);
  // Small chunks give the same text (many CR, multi-byte and cluster cuts on the way).
  CHECK(read_in_chunks({path}, {}, 4093) == text);
  for (auto kind : {UnitKind::grapheme, UnitKind::codepoint, UnitKind::byte}) {
    CAPTURE(charnn::to_string(kind));
    charnn::UnitCounter counter(kind);
    counter.add_text(text);
    auto vocab = charnn::Vocab::build(counter, with(kind));
    CHECK(vocab.decode(vocab.encode(text)) == text);
  }
}

TEST_CASE("thai text round-trips and has fewer clusters than code points", "[text][shared]") {
  if (!charnn::test::have_shared_corpus("thai.txt")) return;
  const auto path = charnn::test::shared_corpus("thai.txt");
  const std::string text = charnn::read_text({path}, {});
  const auto graphemes = units_of(text, UnitKind::grapheme);
  const auto codepoints = units_of(text, UnitKind::codepoint);
  CHECK(join(graphemes) == text);
  CHECK(graphemes.size() < codepoints.size());
  std::vector<std::string> streamed;
  CHECK(read_in_chunks({path}, {}, 10007, &streamed) == text);
  CHECK(streamed == graphemes);
  charnn::UnitCounter counter(UnitKind::grapheme);
  counter.add_text(text);
  auto vocab = charnn::Vocab::build(counter, {});
  CHECK(vocab.decode(vocab.encode(text)) == text);
}

TEST_CASE("the tiny corpora read cleanly and round-trip under every unit kind", "[text]") {
  const fs::path tiny = fs::path(CHARNN_SOURCE_DIR) / "corpora" / "tiny";
  for (const char* name : {"english.txt", "unicode.txt", "code.txt"}) {
    CAPTURE(name);
    const auto path = tiny / name;
    REQUIRE(fs::exists(path));
    const std::string text = charnn::read_text({path}, {});
    for (auto kind : {UnitKind::grapheme, UnitKind::codepoint, UnitKind::byte}) {
      charnn::UnitCounter counter(kind);
      counter.add_text(text);
      auto vocab = charnn::Vocab::build(counter, with(kind));
      CHECK(vocab.decode(vocab.encode(text)) == text);
    }
  }
  // unicode.txt holds decomposed accents: NFC composes them, none keeps them.
  const auto uni = tiny / "unicode.txt";
  const std::string nfc = charnn::read_text({uni}, {});
  const std::string raw = charnn::read_text({uni}, with(UnitKind::grapheme, Normalization::none));
  CHECK(nfc.find("e\xCC\x81") == std::string::npos);
  CHECK(raw.find("e\xCC\x81") != std::string::npos);
  CHECK(nfc.find("q\xCC\x83") != std::string::npos);  // no precomposed form: stays
  CHECK(units_of(nfc, UnitKind::grapheme).size() == units_of(raw, UnitKind::grapheme).size());
}

TEST_CASE("segmentation is unchanged when ICU sees long text in windows", "[text]") {
  // Texts above 256 MiB are segmented in windows; small windows put many seams in a short text,
  // including inside clusters, which must then be looked at again from their start.
  std::string block = std::string("ab ") + kFamily + " \xE0\xB8\x99\xE0\xB9\x89\xE0\xB8\xB3x" +
                      "\xF0\x9F\x87\xAB\xF0\x9F\x87\xB7\xF0\x9F\x87\xA9\xF0\x9F\x87\xAA" +
                      "\r\ne\xCC\x81\xCC\xA3." + kFamily + kFamily + "\n";
  std::string text;
  for (int i = 0; i < 40; ++i)
    text += block.substr(0, block.size() - static_cast<std::size_t>(i % 5));
  text += "end";
  const auto expected = units_of(text, UnitKind::grapheme);
  for (std::size_t window : {24u, 25u, 37u, 64u, 100u, 1000u}) {
    CAPTURE(window);
    charnn::detail::UnitSegmenter seg(UnitKind::grapheme, window);
    seg.reset(text);
    std::vector<std::string> got;
    std::string_view u;
    while (seg.next(u)) got.emplace_back(u);
    REQUIRE(got == expected);
    // The run interface agrees too.
    seg.reset(text);
    got.clear();
    bool singles = false;
    while (seg.next_run(u, singles)) {
      if (singles) {
        for (char c : u) got.emplace_back(1, c);
      } else {
        got.emplace_back(u);
      }
    }
    REQUIRE(got == expected);
  }
}

TEST_CASE("random text streams to exactly what cleaning it at once gives", "[text]") {
  // Pieces chosen to straddle chunk cuts in every way the pipeline cares about: line ends,
  // invalid and cut UTF-8, combining marks NFC reorders or composes (including Hangul jamo),
  // joiners, regional indicators, skin tones, Thai marks and stray BOMs.
  const std::vector<std::string> pieces = {"a",
                                           "Z",
                                           " ",
                                           "\r",
                                           "\n",
                                           "\r\n",
                                           "e\xCC\x81",
                                           "\xCC\x81",
                                           "\xCC\xA3",
                                           kFamily,
                                           "\xE2\x80\x8D",
                                           "\xF0\x9F\x87\xAB",
                                           "\xF0\x9F\x8F\xBD",
                                           "\xE0\xB8\x99",
                                           "\xE0\xB9\x89",
                                           "\xE0\xB8\xB3",
                                           "\xEF\xBB\xBF",
                                           "\xE1\x84\x80",
                                           "\xE1\x85\xA1",
                                           "\xC3",
                                           "\xFF",
                                           "\xE0\x80",
                                           "\xF0\x9F\x98",
                                           "\xC3\xA9"};
  std::mt19937 rng(20261121);
  TempDir dir("random");
  for (int round = 0; round < 150; ++round) {
    std::string raw;
    const int n = std::uniform_int_distribution<int>(1, 60)(rng);
    for (int i = 0; i < n; ++i)
      raw += pieces[std::uniform_int_distribution<std::size_t>(0, pieces.size() - 1)(rng)];
    TextOptions o;
    o.on_invalid = OnInvalid::replace;
    o.units = static_cast<UnitKind>(round % 3);
    o.normalize = (round / 3) % 2 == 0 ? Normalization::nfc : Normalization::none;
    o.normalize_newlines = (round / 6) % 4 != 0;
    const std::string expected = charnn::clean_text(raw, o);
    if (expected.empty()) continue;  // a lone BOM: an empty file is an error, tested elsewhere
    auto file = dir.write("r.txt", raw);
    const std::size_t chunk = std::uniform_int_distribution<std::size_t>(1, 17)(rng);
    CAPTURE(round, chunk, charnn::to_string(o.units), charnn::to_string(o.normalize));
    std::vector<std::string> units;
    REQUIRE(read_in_chunks({file}, o, chunk, &units) == expected);
    REQUIRE(units == units_of(expected, o.units));
  }
}
