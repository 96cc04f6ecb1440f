// The vocabulary: deterministic ids, the unknown symbol under --min-count/--max-vocab,
// encode/decode, the binary form and JSON, one-hot rows, and the train/valid/test split.
#include <charnn/json.hpp>
#include <charnn/error.hpp>
#include <charnn/text.hpp>
#include <charnn/vocab.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

using charnn::SplitFractions;
using charnn::UnitCounter;
using charnn::UnitKind;
using charnn::Vocab;
using charnn::VocabOptions;

namespace {

Vocab vocab_of(std::string_view text, VocabOptions options = {},
               UnitKind kind = UnitKind::grapheme) {
  UnitCounter counter(kind);
  counter.add_text(text);
  charnn::TextOptions t;
  t.units = kind;
  return Vocab::build(counter, t, options);
}

std::vector<std::string> units_by_id(const Vocab& v) {
  std::vector<std::string> out;
  for (std::int32_t i = 0; i < v.size(); ++i) out.push_back(v.unit(i));
  return out;
}

std::vector<std::int32_t> iota_ids(std::size_t n) {
  std::vector<std::int32_t> ids(n);
  std::iota(ids.begin(), ids.end(), 0);
  return ids;
}

}  // namespace

TEST_CASE("vocabulary ids go by count, then by the unit's bytes, whatever the input order",
          "[vocab]") {
  // a:5, b:2, r:2, c:1, d:1
  auto v = vocab_of("abracadabra");
  CHECK(units_by_id(v) == std::vector<std::string>{"a", "b", "r", "c", "d"});
  CHECK(v.count(0) == 5);
  CHECK(v.count(4) == 1);
  CHECK_FALSE(v.has_unknown());
  CHECK(v.unknown_id() == -1);
  // The same counts reached another way give the same ids.
  UnitCounter by_hand(UnitKind::grapheme);
  for (auto u : {"d", "c", "r", "r", "b", "b"}) by_hand.add_unit(u);
  by_hand.add_unit("a", 5);
  CHECK(Vocab::build(by_hand, {}) == v);
  CHECK(*v.find("r") == 2);
  CHECK_FALSE(v.find("z").has_value());
}

TEST_CASE("encode and decode round-trip, and unknown units are named", "[vocab]") {
  const std::string text = "caf\xC3\xA9 na\xC3\xAFve\n";
  auto v = vocab_of(text);
  auto ids = v.encode(text);
  CHECK(ids.size() == 11);
  CHECK(v.decode(ids) == text);
  const std::string msg = [&] {
    try {
      v.encode("cafe\tzz");
    } catch (const charnn::error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  }();
  CHECK_THAT(msg, Catch::Contains("3 units are not in the vocabulary") &&
                      Catch::Contains("'\\t'") && Catch::Contains("'z'"));
  const std::vector<std::int32_t> bad{0, 99};
  CHECK_THROWS_AS(v.decode(bad), charnn::error);
}

TEST_CASE("min-count maps rare units to one unknown symbol at the last id", "[vocab]") {
  // a:5, b:2, r:2, c:1, d:1
  VocabOptions o;
  o.min_count = 2;
  auto v = vocab_of("abracadabra", o);
  REQUIRE(v.size() == 4);
  CHECK(units_by_id(v) == std::vector<std::string>{"a", "b", "r", "\xEF\xBF\xBD"});
  CHECK(v.unknown_id() == 3);
  CHECK(v.unknown_units() == 2);
  CHECK(v.count(3) == 2);
  CHECK_FALSE(v.find("c").has_value());
  CHECK_FALSE(v.find("\xEF\xBF\xBD").has_value());  // the symbol is not a unit of the text
  auto ids = v.encode("cab");
  CHECK(ids == std::vector<std::int32_t>{3, 0, 1});
  CHECK(v.decode(ids) ==
        "\xEF\xBF\xBD"
        "ab");
  o.min_count = 6;
  CHECK_THROWS_AS(vocab_of("abracadabra", o), charnn::error);
  o.min_count = 0;
  CHECK_THROWS_AS(vocab_of("abracadabra", o), charnn::error);
}

TEST_CASE("max-vocab keeps the most frequent units and counts the unknown symbol in the limit",
          "[vocab]") {
  VocabOptions o;
  o.max_vocab = 3;
  auto v = vocab_of("abracadabra", o);
  CHECK(units_by_id(v) == std::vector<std::string>{"a", "b", "\xEF\xBF\xBD"});
  CHECK(v.unknown_units() == 4);  // r r c d
  o.max_vocab = 5;                // exactly fits: no unknown symbol needed
  CHECK_FALSE(vocab_of("abracadabra", o).has_unknown());
  CHECK(vocab_of("abracadabra", o).size() == 5);
  o.max_vocab = 4;
  CHECK(vocab_of("abracadabra", o).size() == 4);
  o.min_count = 2;  // drops c, d; a, b, r + unknown fits in 4
  CHECK(units_by_id(vocab_of("abracadabra", o)) ==
        std::vector<std::string>{"a", "b", "r", "\xEF\xBF\xBD"});
  o = {};
  o.max_vocab = 1;
  CHECK_THROWS_AS(vocab_of("abracadabra", o), charnn::error);
}

TEST_CASE("a vocabulary saves and loads exactly, and rejects damaged data", "[vocab]") {
  VocabOptions o;
  o.min_count = 2;
  auto v = vocab_of("hello, w\xC3\xB6rld! hello\n\n", o, UnitKind::codepoint);
  std::stringstream buf;
  v.save(buf);
  buf << "trailing data of the enclosing checkpoint";
  auto loaded = Vocab::load(buf);
  CHECK(loaded == v);
  CHECK(loaded.unit_kind() == UnitKind::codepoint);
  CHECK(loaded.unknown_id() == v.unknown_id());
  CHECK(loaded.text_options().normalize == v.text_options().normalize);
  std::string rest;
  std::getline(buf, rest);
  CHECK(rest == "trailing data of the enclosing checkpoint");  // read exactly its own bytes
  CHECK(loaded.encode("hello") == v.encode("hello"));

  std::stringstream again;
  v.save(again);
  const std::string bytes = again.str();
  for (std::size_t cut : {0ul, 5ul, 12ul, 20ul, bytes.size() - 1}) {
    std::istringstream truncated(bytes.substr(0, cut));
    CHECK_THROWS_AS(Vocab::load(truncated), charnn::error);
  }
  std::string wrong = bytes;
  wrong[0] = 'X';
  std::istringstream bad_magic(wrong);
  CHECK_THROWS_WITH(Vocab::load(bad_magic), Catch::Contains("not a charnn vocabulary"));
  wrong = bytes;
  wrong[8] = 9;  // format version
  std::istringstream bad_version(wrong);
  CHECK_THROWS_WITH(Vocab::load(bad_version), Catch::Contains("version 9"));
}

TEST_CASE("vocabulary JSON lists every id with its unit, escape and count", "[vocab]") {
  VocabOptions o;
  o.min_count = 2;
  auto v = vocab_of("aa\"\"\\\\\n\nz", o);
  const auto j = nlohmann::ordered_json::parse(v.to_json());
  CHECK(j.begin().key() == "format");
  CHECK(j["format"] == "charnn-vocab");
  CHECK(j["units"] == "grapheme");
  CHECK(j["size"] == 5);
  CHECK(j["unknown_id"] == 4);
  CHECK(j["unknown_units"] == 1);
  const auto& entries = j["entries"];
  CHECK(entries[0] == nlohmann::ordered_json::parse(
                          "{\"id\": 0, \"unit\": \"\\n\", \"shown\": \"\\\\n\", \"count\": 2}"));
  auto entry_of = [&](const std::string& unit) {
    for (const auto& e : entries)
      if (e["unit"] == unit) return e;
    return nlohmann::ordered_json();
  };
  CHECK(entry_of("\"").is_object());
  CHECK(entry_of("\\")["shown"] == "\\\\");
  CHECK(entries[4]["unknown"] == true);
  // Bytes that are not UTF-8 cannot be JSON strings: they are given in hex.
  auto bytes = vocab_of("\xC3\xA9", {}, UnitKind::byte);
  const auto bj = nlohmann::ordered_json::parse(bytes.to_json());
  bool hex_a9 = false;
  for (const auto& e : bj["entries"]) hex_a9 |= e["unit"].is_null() && e.value("hex", "") == "A9";
  CHECK(hex_a9);
  CHECK(charnn::json_string("a\x01\xE2\x80\xA8") == "\"a\\u0001\\u2028\"");
}

TEST_CASE("one-hot rows have a single one at the id", "[vocab]") {
  const std::vector<std::int32_t> ids{2, 0, 3};
  std::vector<float> out(3 * 4, 7.0f);  // (3 ids, vocab 4)
  charnn::one_hot(ids, 4, out.data());
  CHECK(out == std::vector<float>{0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1});
  const std::vector<std::int32_t> bad{4};
  CHECK_THROWS_AS(charnn::one_hot(bad, 4, out.data()), charnn::error);
}

TEST_CASE("the split is contiguous, deterministic and exact at its boundaries", "[vocab][split]") {
  auto ids = iota_ids(1000);
  auto s = charnn::split_corpus(ids, {});
  CHECK(s.train.size() == 900);
  CHECK(s.valid.size() == 50);
  CHECK(s.test.size() == 50);
  CHECK(s.train.data() == ids.data());
  CHECK(s.valid.data() == ids.data() + 900);
  CHECK(s.test.data() == ids.data() + 950);
  CHECK(s.test.back() == 999);
  // Rounding: 0.29 * 100 is 28.999... in floating point, but the part is 29 units.
  auto r = charnn::split_sizes(100, {0.42, 0.29, 0.29});
  CHECK(r.valid == 29);
  CHECK(r.test == 29);
  CHECK(r.train == 42);
  // Remainders go to training; a zero fraction gives an empty part.
  auto z = charnn::split_sizes(1001, {0.9, 0.1, 0.0});
  CHECK(z.train == 901);
  CHECK(z.valid == 100);
  CHECK(z.test == 0);
  auto zs = charnn::split_corpus(iota_ids(10), {0.8, 0.2, 0.0});
  CHECK(zs.test.empty());
}

TEST_CASE("a corpus too short for the split says how long it must be", "[vocab][split]") {
  // 5% of n must reach 2 units: n = 40 is the shortest that works.
  CHECK(charnn::min_split_length({}) == 40);
  CHECK_NOTHROW(charnn::split_sizes(40, {}));
  CHECK_THROWS_WITH(charnn::split_sizes(39, {}),
                    Catch::Contains("has 39 units") && Catch::Contains("at least 40"));
  auto ids = iota_ids(39);
  CHECK_THROWS_AS(charnn::split_corpus(ids, {}), charnn::error);
  // min_split_length is the exact threshold for a range of fractions and part sizes.
  for (SplitFractions f : {SplitFractions{0.9, 0.05, 0.05}, SplitFractions{0.8, 0.1, 0.1},
                           SplitFractions{0.98, 0.02, 0.0}, SplitFractions{1.0, 0.0, 0.0},
                           SplitFractions{0.34, 0.33, 0.33}, SplitFractions{0.5, 0.29, 0.21}}) {
    for (std::int64_t m : {1, 2, 7, 100}) {
      CAPTURE(f.train, f.valid, f.test, m);
      const auto n = charnn::min_split_length(f, m);
      CHECK_NOTHROW(charnn::split_sizes(n, f, m));
      for (std::int64_t k = 1; k < n; ++k) CHECK_THROWS(charnn::split_sizes(k, f, m));
    }
  }
}

TEST_CASE("split fractions are parsed and checked", "[vocab][split]") {
  auto f = charnn::parse_split("0.8,0.15,0.05");
  CHECK(f.train == Approx(0.8));
  CHECK(f.valid == Approx(0.15));
  CHECK(f.test == Approx(0.05));
  for (const char* bad : {"", "0.9,0.1", "0.9,0.05,0.05,0", "0.9;0.05;0.05", "a,b,c", "0.5,0.3,0.3",
                          "0,0.5,0.5", "1.1,-0.05,-0.05", "0.9,0.05,"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(charnn::parse_split(bad), charnn::error);
  }
}

TEST_CASE("counting chunk by chunk gives the counts of the whole text", "[vocab]") {
  auto dir =
      std::filesystem::temp_directory_path() / ("charnn-test-vocab-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto file = dir / "c.txt";
  std::string text;
  for (int i = 0; i < 300; ++i)
    text += "Line " + std::to_string(i) +
            ": na\xC3\xAFve caf\xC3\xA9 \xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD\n";
  std::ofstream(file, std::ios::binary) << text;
  for (auto kind : {UnitKind::grapheme, UnitKind::codepoint, UnitKind::byte}) {
    charnn::TextOptions o;
    o.units = kind;
    charnn::TextReader reader({file}, o, 97);
    UnitCounter streamed(kind), whole(kind);
    std::string chunk;
    while (reader.next(chunk)) streamed.add_text(chunk);
    whole.add_text(charnn::read_text({file}, o));
    CHECK(streamed.total() == whole.total());
    CHECK(streamed.counts() == whole.counts());
    CHECK(Vocab::build(streamed, o) == Vocab::build(whole, o));
  }
  std::filesystem::remove_all(dir);
}
