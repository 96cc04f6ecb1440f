// The vocabulary: units ⇄ ids with counts, deterministic order, an optional unknown symbol for
// rare units, serialisation (it lives inside checkpoints) and JSON for people and scripts.
#pragma once

#include <charnn/text.hpp>

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace charnn {

struct VocabOptions {
  std::int64_t min_count = 1;  // units seen fewer times map to the unknown symbol
  std::int64_t max_vocab = 0;  // 0 = no limit; otherwise keep the most frequent, rest unknown
                               // (the limit counts the unknown symbol: size() <= max_vocab)
};

// Unit counts gathered while streaming a corpus.
class UnitCounter {
 public:
  explicit UnitCounter(UnitKind kind) : kind_(kind) {}
  void add_text(std::string_view cleaned_text);  // segments and counts
  void add_unit(std::string_view unit, std::int64_t n = 1);
  UnitKind kind() const { return kind_; }
  std::int64_t total() const { return total_; }
  const std::unordered_map<std::string, std::int64_t>& counts() const { return counts_; }

 private:
  UnitKind kind_;
  std::int64_t total_ = 0;
  std::unordered_map<std::string, std::int64_t> counts_;
};

class Vocab {
 public:
  Vocab() = default;
  // Ids: most frequent first, ties broken by the unit's bytes, so the same corpus always gives
  // the same ids. When any unit is dropped an unknown symbol is added as the last id.
  static Vocab build(const UnitCounter& counts, const TextOptions& text,
                     const VocabOptions& options = {});

  std::int32_t size() const { return static_cast<std::int32_t>(units_.size()); }
  const TextOptions& text_options() const { return text_; }
  UnitKind unit_kind() const { return text_.units; }

  const std::string& unit(std::int32_t id) const;  // the unknown symbol decodes to U+FFFD
  std::int64_t count(std::int32_t id) const;       // in the corpus it was built from
  std::optional<std::int32_t> find(std::string_view unit) const;
  bool has_unknown() const { return unknown_id_ >= 0; }
  std::int32_t unknown_id() const { return unknown_id_; }        // -1 when none
  std::int64_t unknown_units() const { return unknown_units_; }  // corpus units mapped to it

  // Encodes cleaned text. A unit not in the vocabulary maps to the unknown symbol if there is
  // one; otherwise encode throws charnn::error listing the missing units (escaped).
  std::vector<std::int32_t> encode(std::string_view cleaned_text) const;
  std::string decode(std::span<const std::int32_t> ids) const;

  void save(std::ostream& out) const;   // binary, versioned
  static Vocab load(std::istream& in);  // throws charnn::error on malformed data
  std::string to_json() const;
  bool operator==(const Vocab& other) const;

 private:
  TextOptions text_;
  std::vector<std::string> units_;
  std::vector<std::int64_t> counts_;
  std::unordered_map<std::string, std::int32_t> index_;
  std::int32_t unknown_id_ = -1;
  std::int64_t unknown_units_ = 0;
};

// Writes one-hot rows: out is (ids.size(), vocab_size), zeroed except out[r][ids[r]] = 1.
void one_hot(std::span<const std::int32_t> ids, std::int32_t vocab_size, float* out);

// Contiguous train / validation / test split of an encoded corpus. The fractions must be
// positive for train and sum to 1; each non-empty part needs at least min_part ids, and a
// corpus too short for that throws charnn::error saying how many units it needs.
struct SplitFractions {
  double train = 0.90, valid = 0.05, test = 0.05;
};
struct Split {
  std::span<const std::int32_t> train, valid, test;
};
Split split_corpus(std::span<const std::int32_t> ids, const SplitFractions& fractions,
                   std::int64_t min_part = 2);

// The part sizes split_corpus gives a corpus of n units (same checks, same errors), for callers
// that count units while streaming and never hold the encoded corpus.
struct SplitSizes {
  std::int64_t train = 0, valid = 0, test = 0;
};
SplitSizes split_sizes(std::int64_t n, const SplitFractions& fractions, std::int64_t min_part = 2);
// The smallest corpus (in units) that split_sizes accepts for these fractions.
std::int64_t min_split_length(const SplitFractions& fractions, std::int64_t min_part = 2);
// Parses "0.9,0.05,0.05" (train,valid,test); throws charnn::error (exit code 2) when malformed.
SplitFractions parse_split(std::string_view text);

}  // namespace charnn
