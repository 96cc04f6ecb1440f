// The vocabulary: counting units, deterministic ids, the unknown symbol, encode/decode,
// one-hot rows, the binary form stored in checkpoints, JSON, and the train/valid/test split.
#include <charnn/error.hpp>
#include <charnn/json.hpp>
#include <charnn/vocab.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <istream>
#include <ostream>
#include <sstream>

#include <unicode/utf8.h>

#include "text_internal.hpp"

namespace charnn {

namespace {

constexpr std::string_view kUnknownSymbol = "\xEF\xBF\xBD";  // U+FFFD, what it decodes to
constexpr char kMagic[8] = {'C', 'H', 'N', 'V', 'O', 'C', 'A', 'B'};
constexpr std::uint32_t kFormatVersion = 1;
constexpr std::uint32_t kMaxUnitBytes = 4096;  // longer "units" mean corrupt data
constexpr std::int32_t kMaxVocab = 1 << 24;

bool valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const auto n = static_cast<int32_t>(s.size());
  int32_t i = 0;
  while (i < n) {
    UChar32 c = 0;
    U8_NEXT(p, i, n, c);
    if (c < 0) return false;
  }
  return true;
}

// Little-endian fixed-width fields, so a checkpoint written on one machine loads on another.
template <typename T>
void put(std::ostream& out, T v) {
  static_assert(std::is_integral_v<T>);
  unsigned char b[sizeof(T)];
  auto u = static_cast<std::make_unsigned_t<T>>(v);
  for (std::size_t i = 0; i < sizeof(T); ++i) b[i] = static_cast<unsigned char>(u >> (8 * i));
  out.write(reinterpret_cast<const char*>(b), sizeof(T));
}

[[noreturn]] void malformed(const std::string& what) {
  throw error("malformed vocabulary data: " + what,
              "the checkpoint or vocabulary file is damaged or truncated; use another copy");
}

template <typename T>
T get(std::istream& in, const char* field) {
  unsigned char b[sizeof(T)];
  if (!in.read(reinterpret_cast<char*>(b), sizeof(T)))
    malformed(std::string("truncated while reading ") + field);
  std::make_unsigned_t<T> u = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i)
    u |= static_cast<std::make_unsigned_t<T>>(b[i]) << (8 * i);
  return static_cast<T>(u);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Counting.

void UnitCounter::add_text(std::string_view cleaned_text) {
  // Single-byte units (ASCII, or any byte in byte mode) dominate most corpora: count them in a
  // flat table and fold it into the map once, instead of hashing a string per unit.
  std::array<std::int64_t, 256> single{};
  detail::UnitSegmenter seg(kind_);
  seg.reset(cleaned_text);
  std::string_view unit;
  std::string key;
  std::int64_t n = 0;
  bool singles = false;
  while (seg.next_run(unit, singles)) {
    if (singles) {
      for (char c : unit) ++single[static_cast<unsigned char>(c)];
      n += static_cast<std::int64_t>(unit.size());
    } else {
      key.assign(unit);
      ++counts_[key];
      ++n;
    }
  }
  for (std::size_t b = 0; b < single.size(); ++b)
    if (single[b] != 0) counts_[std::string(1, static_cast<char>(b))] += single[b];
  total_ += n;
}

void UnitCounter::add_unit(std::string_view unit, std::int64_t n) {
  counts_[std::string(unit)] += n;
  total_ += n;
}

// ---------------------------------------------------------------------------------------------
// Building and using the vocabulary.

Vocab Vocab::build(const UnitCounter& counts, const TextOptions& text,
                   const VocabOptions& options) {
  if (options.min_count < 1)
    throw error("--min-count must be at least 1 (got " + std::to_string(options.min_count) + ")",
                "use 1 to keep every unit", 2);
  if (options.max_vocab != 0 && options.max_vocab < 2)
    throw error("--max-vocab must be 0 (no limit) or at least 2 (got " +
                    std::to_string(options.max_vocab) + ")",
                "the limit includes the unknown symbol, so it needs room for one real unit", 2);
  if (counts.counts().empty())
    throw error("the corpus has no units to build a vocabulary from",
                "pass a file that contains text");

  std::vector<std::pair<std::string, std::int64_t>> all(counts.counts().begin(),
                                                        counts.counts().end());
  // Most frequent first; equal counts in byte order, so ids never depend on hash order.
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  std::size_t keep = 0;
  while (keep < all.size() && all[keep].second >= options.min_count) ++keep;
  if (options.max_vocab > 0) {
    const auto limit = static_cast<std::size_t>(options.max_vocab);
    // The limit counts the unknown symbol too, whenever one is needed.
    if (keep > limit || (keep < all.size() && keep >= limit)) keep = limit - 1;
  }
  if (keep == 0)
    throw error("--min-count " + std::to_string(options.min_count) +
                    " leaves no unit in the vocabulary (the most frequent unit occurs " +
                    std::to_string(all.front().second) + " times)",
                "lower --min-count", 2);

  Vocab v;
  v.text_ = text;
  v.text_.units = counts.kind();
  v.units_.reserve(keep + 1);
  v.counts_.reserve(keep + 1);
  for (std::size_t i = 0; i < keep; ++i) {
    v.index_.emplace(all[i].first, static_cast<std::int32_t>(i));
    v.units_.push_back(std::move(all[i].first));
    v.counts_.push_back(all[i].second);
  }
  if (keep < all.size()) {
    for (std::size_t i = keep; i < all.size(); ++i) v.unknown_units_ += all[i].second;
    v.unknown_id_ = static_cast<std::int32_t>(keep);
    v.units_.emplace_back(kUnknownSymbol);
    v.counts_.push_back(v.unknown_units_);
  }
  if (v.units_.size() > static_cast<std::size_t>(kMaxVocab))
    throw error("the vocabulary has " + std::to_string(v.units_.size()) +
                    " units, more than the supported " + std::to_string(kMaxVocab),
                "use --max-vocab to keep only the most frequent units");
  return v;
}

const std::string& Vocab::unit(std::int32_t id) const {
  if (id < 0 || id >= size())
    throw error("unit id " + std::to_string(id) + " is outside the vocabulary (size " +
                std::to_string(size()) + ")");
  return units_[static_cast<std::size_t>(id)];
}

std::int64_t Vocab::count(std::int32_t id) const {
  if (id < 0 || id >= size())
    throw error("unit id " + std::to_string(id) + " is outside the vocabulary (size " +
                std::to_string(size()) + ")");
  return counts_[static_cast<std::size_t>(id)];
}

std::optional<std::int32_t> Vocab::find(std::string_view unit) const {
  auto it = index_.find(std::string(unit));
  if (it == index_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::int32_t> Vocab::encode(std::string_view cleaned_text) const {
  // Ids of single-byte units, looked up without hashing (-2 = not a unit of its own).
  std::array<std::int32_t, 256> single;
  single.fill(-2);
  for (std::size_t i = 0; i < units_.size(); ++i)
    if (units_[i].size() == 1 && static_cast<std::int32_t>(i) != unknown_id_)
      single[static_cast<unsigned char>(units_[i][0])] = static_cast<std::int32_t>(i);

  std::vector<std::int32_t> ids;
  ids.reserve(text_.units == UnitKind::byte ? cleaned_text.size() : cleaned_text.size() / 2 + 16);
  detail::UnitSegmenter seg(text_.units);
  seg.reset(cleaned_text);
  std::string key;
  std::vector<std::string> missing;
  std::int64_t n_missing = 0;
  // A unit without an id: the unknown symbol if there is one, else remembered for the error.
  auto not_found = [&](std::string_view u) {
    if (unknown_id_ >= 0) {
      ids.push_back(unknown_id_);
      return;
    }
    ++n_missing;
    if (missing.size() < 10 && std::find(missing.begin(), missing.end(), u) == missing.end())
      missing.emplace_back(u);
  };
  bool singles = false;
  std::string_view run;
  while (seg.next_run(run, singles)) {
    if (singles) {  // one unit per byte: a table lookup each
      for (std::size_t k = 0; k < run.size(); ++k) {
        const std::int32_t id = single[static_cast<unsigned char>(run[k])];
        if (id >= 0) {
          ids.push_back(id);
        } else {
          not_found(run.substr(k, 1));
        }
      }
      continue;
    }
    key.assign(run);
    auto it = index_.find(key);
    if (it != index_.end()) {
      ids.push_back(it->second);
    } else {
      not_found(run);
    }
  }
  if (n_missing > 0) {
    std::string list;
    for (const auto& m : missing) list += (list.empty() ? "'" : ", '") + escape_unit(m) + "'";
    throw error(std::to_string(n_missing) + " unit" + (n_missing == 1 ? " is" : "s are") +
                    " not in the vocabulary: " + list + (missing.size() == 10 ? ", ..." : ""),
                "use only characters the model was trained on, or build the vocabulary with "
                "--min-count/--max-vocab so that it has an unknown symbol");
  }
  return ids;
}

std::string Vocab::decode(std::span<const std::int32_t> ids) const {
  std::string out;
  out.reserve(ids.size());
  for (std::int32_t id : ids) out += unit(id);
  return out;
}

bool Vocab::operator==(const Vocab& o) const {
  return text_.units == o.text_.units && text_.normalize == o.text_.normalize &&
         text_.on_invalid == o.text_.on_invalid &&
         text_.normalize_newlines == o.text_.normalize_newlines && units_ == o.units_ &&
         counts_ == o.counts_ && unknown_id_ == o.unknown_id_ && unknown_units_ == o.unknown_units_;
}

// ---------------------------------------------------------------------------------------------
// Binary form: magic "CHNVOCAB", u32 version, u8 units/normalize/on_invalid/newlines,
// i32 size, i32 unknown_id, i64 unknown_units, then per id: u32 byte length, bytes, i64 count.

void Vocab::save(std::ostream& out) const {
  out.write(kMagic, sizeof kMagic);
  put<std::uint32_t>(out, kFormatVersion);
  put<std::uint8_t>(out, static_cast<std::uint8_t>(text_.units));
  put<std::uint8_t>(out, static_cast<std::uint8_t>(text_.normalize));
  put<std::uint8_t>(out, static_cast<std::uint8_t>(text_.on_invalid));
  put<std::uint8_t>(out, text_.normalize_newlines ? 1 : 0);
  put<std::int32_t>(out, size());
  put<std::int32_t>(out, unknown_id_);
  put<std::int64_t>(out, unknown_units_);
  for (std::size_t i = 0; i < units_.size(); ++i) {
    put<std::uint32_t>(out, static_cast<std::uint32_t>(units_[i].size()));
    out.write(units_[i].data(), static_cast<std::streamsize>(units_[i].size()));
    put<std::int64_t>(out, counts_[i]);
  }
  if (!out) throw error("could not write the vocabulary (disk full?)");
}

Vocab Vocab::load(std::istream& in) {
  char magic[sizeof kMagic];
  if (!in.read(magic, sizeof magic)) malformed("truncated before the header");
  if (std::memcmp(magic, kMagic, sizeof magic) != 0) malformed("not a charnn vocabulary");
  const auto version = get<std::uint32_t>(in, "the version");
  if (version != kFormatVersion)
    throw error("vocabulary format version " + std::to_string(version) +
                    " is not supported (this charnn reads version " +
                    std::to_string(kFormatVersion) + ")",
                "use the charnn version that wrote it, or rebuild the vocabulary");
  Vocab v;
  const auto units = get<std::uint8_t>(in, "the unit kind");
  const auto norm = get<std::uint8_t>(in, "the normalisation");
  const auto inval = get<std::uint8_t>(in, "the invalid-input policy");
  const auto newlines = get<std::uint8_t>(in, "the line-end flag");
  if (units > 2 || norm > 1 || inval > 1 || newlines > 1) malformed("bad text options");
  v.text_.units = static_cast<UnitKind>(units);
  v.text_.normalize = static_cast<Normalization>(norm);
  v.text_.on_invalid = static_cast<OnInvalid>(inval);
  v.text_.normalize_newlines = newlines != 0;
  const auto size = get<std::int32_t>(in, "the size");
  v.unknown_id_ = get<std::int32_t>(in, "the unknown id");
  v.unknown_units_ = get<std::int64_t>(in, "the unknown count");
  if (size < 1 || size > kMaxVocab) malformed("size " + std::to_string(size));
  if (v.unknown_id_ < -1 || v.unknown_id_ >= size)
    malformed("unknown id " + std::to_string(v.unknown_id_));
  if (v.unknown_units_ < 0) malformed("negative unknown count");
  // Grown unit by unit, not sized from the header: a damaged size field then costs no more
  // memory than the bytes that are really there.
  for (std::int32_t i = 0; i < size; ++i) {
    const auto len = get<std::uint32_t>(in, "a unit length");
    if (len == 0 || len > kMaxUnitBytes)
      malformed("unit " + std::to_string(i) + " has length " + std::to_string(len));
    std::string u(len, '\0');
    if (!in.read(u.data(), len)) malformed("truncated inside unit " + std::to_string(i));
    const auto count = get<std::int64_t>(in, "a unit count");
    if (count < 0) malformed("negative count");
    if (i != v.unknown_id_ && !v.index_.emplace(u, i).second)
      malformed("unit " + std::to_string(i) + " appears twice");
    v.units_.push_back(std::move(u));
    v.counts_.push_back(count);
  }
  return v;
}

std::string Vocab::to_json() const {
  Json entries = Json::array();
  for (std::size_t i = 0; i < units_.size(); ++i) {
    const auto& u = units_[i];
    Json e;
    e["id"] = i;
    if (valid_utf8(u)) {
      e["unit"] = u;
    } else {  // a lone byte of a byte-unit vocabulary: no JSON string can hold it
      e["unit"] = nullptr;
      std::string hex;
      for (unsigned char c : u) {
        char buf[4];
        std::snprintf(buf, sizeof buf, "%02X", c);
        hex += buf;
      }
      e["hex"] = hex;
    }
    e["shown"] = escape_unit(u);
    e["count"] = counts_[i];
    if (static_cast<std::int32_t>(i) == unknown_id_) e["unknown"] = true;
    entries.push_back(std::move(e));
  }
  Json j;
  j["format"] = "charnn-vocab";
  j["version"] = kFormatVersion;
  j["units"] = to_string(text_.units);
  j["normalize"] = to_string(text_.normalize);
  j["on_invalid"] = to_string(text_.on_invalid);
  j["normalize_newlines"] = text_.normalize_newlines;
  j["size"] = size();
  j["unknown_id"] = unknown_id_;
  j["unknown_units"] = unknown_units_;
  j["entries"] = std::move(entries);
  return json_text(j);
}

// ---------------------------------------------------------------------------------------------
// One-hot rows and the split.

void one_hot(std::span<const std::int32_t> ids, std::int32_t vocab_size, float* out) {
  if (vocab_size <= 0) throw error("one_hot: vocabulary size must be positive");
  const auto v = static_cast<std::size_t>(vocab_size);
  std::fill(out, out + ids.size() * v, 0.0f);  // out: (ids.size(), vocab_size)
  for (std::size_t r = 0; r < ids.size(); ++r) {
    if (ids[r] < 0 || ids[r] >= vocab_size)
      throw error("one_hot: id " + std::to_string(ids[r]) + " is outside the vocabulary (size " +
                  std::to_string(vocab_size) + ")");
    out[r * v + static_cast<std::size_t>(ids[r])] = 1.0f;
  }
}

namespace {

void check_fractions(const SplitFractions& f) {
  const bool finite = std::isfinite(f.train) && std::isfinite(f.valid) && std::isfinite(f.test);
  if (!finite || f.train <= 0 || f.valid < 0 || f.test < 0 ||
      std::abs(f.train + f.valid + f.test - 1.0) > 1e-6) {
    std::ostringstream s;
    s << "bad split " << f.train << "," << f.valid << "," << f.test
      << ": the train fraction must be positive, none negative, and they must sum to 1";
    throw error(s.str(), "e.g. --split 0.9,0.05,0.05", 2);
  }
}

// floor(n * f), forgiving the rounding error of fractions like 0.29 (0.29 * 100 = 28.999...).
std::int64_t part(std::int64_t n, double f) {
  if (f <= 0) return 0;
  return static_cast<std::int64_t>(std::floor(static_cast<double>(n) * f + 1e-7));
}

bool split_fits(std::int64_t n, const SplitFractions& f, std::int64_t min_part) {
  const std::int64_t v = part(n, f.valid), t = part(n, f.test);
  return n - v - t >= min_part && (f.valid <= 0 || v >= min_part) && (f.test <= 0 || t >= min_part);
}

}  // namespace

std::int64_t min_split_length(const SplitFractions& f, std::int64_t min_part) {
  check_fractions(f);
  min_part = std::max<std::int64_t>(min_part, 1);
  // Each part needs n * fraction >= min_part (about); start just below and walk up.
  double lower = (static_cast<double>(min_part) - 2) / f.train;
  if (f.valid > 0) lower = std::max(lower, static_cast<double>(min_part) / f.valid);
  if (f.test > 0) lower = std::max(lower, static_cast<double>(min_part) / f.test);
  auto n = std::max<std::int64_t>(1, static_cast<std::int64_t>(std::floor(lower)) - 2);
  while (!split_fits(n, f, min_part)) ++n;
  return n;
}

SplitSizes split_sizes(std::int64_t n, const SplitFractions& f, std::int64_t min_part) {
  check_fractions(f);
  if (!split_fits(n, f, min_part)) {
    std::ostringstream s;
    s << "the corpus is too short for the split " << f.train << "/" << f.valid << "/" << f.test
      << ": it has " << n << " unit" << (n == 1 ? "" : "s") << ", but needs at least "
      << min_split_length(f, min_part) << " so that every part gets " << min_part << " or more";
    throw error(s.str(),
                "use a longer corpus, or give validation and test larger fractions "
                "(or 0) with --split");
  }
  SplitSizes s;
  s.valid = part(n, f.valid);
  s.test = part(n, f.test);
  s.train = n - s.valid - s.test;
  return s;
}

Split split_corpus(std::span<const std::int32_t> ids, const SplitFractions& fractions,
                   std::int64_t min_part) {
  const SplitSizes s = split_sizes(static_cast<std::int64_t>(ids.size()), fractions, min_part);
  const auto tr = static_cast<std::size_t>(s.train), va = static_cast<std::size_t>(s.valid);
  return Split{ids.subspan(0, tr), ids.subspan(tr, va), ids.subspan(tr + va)};
}

SplitFractions parse_split(std::string_view text) {
  std::vector<double> v;
  std::size_t start = 0;
  auto bad = [&]() -> SplitFractions {
    throw error("bad --split '" + std::string(text) +
                    "': expected three fractions train,valid,test that sum to 1",
                "e.g. --split 0.9,0.05,0.05 (or 0.98,0.02,0 for no test part)", 2);
  };
  while (start <= text.size()) {
    std::size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    std::string field(text.substr(start, comma - start));
    char* end = nullptr;
    const double d = std::strtod(field.c_str(), &end);
    if (field.empty() || end != field.c_str() + field.size()) return bad();
    v.push_back(d);
    start = comma + 1;
  }
  if (v.size() != 3) return bad();
  SplitFractions f{v[0], v[1], v[2]};
  check_fractions(f);
  return f;
}

}  // namespace charnn
