// Units of a text that a model's vocabulary does not hold, and what every command that feeds
// text to a trained model (sample's seed, dump, inspect) does about them: the --unknown choice
// and one encoder, so they all fail with the same message.
#pragma once

#include <charnn/vocab.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace charnn {

// What to do with units that are not in the model's vocabulary.
enum class UnknownUnits : std::uint8_t { error = 0, skip = 1, map = 2 };
UnknownUnits parse_unknown_units(std::string_view name);  // "error" | "skip" | "map"
std::string to_string(UnknownUnits u);

struct EncodedUnits {
  std::vector<std::int32_t> ids;  // (kept units): skipped units are left out
  // (kept units): [begin, end) bytes of each kept unit in the cleaned text
  std::vector<std::pair<std::uint64_t, std::uint64_t>> spans;
  std::vector<std::string> unknown;  // distinct units not in the vocabulary, escaped, in order
  std::int64_t unknown_count = 0;    // how many units were unknown (skipped or mapped)
};

// Encodes cleaned text unit by unit. Unknown units: error throws charnn::error listing them
// (escaped, the first 20); skip leaves them out; map reads them as the vocabulary's unknown
// symbol, or throws when it has none. source names the text in messages ("--seed", a file).
EncodedUnits encode_units(std::string_view cleaned, const Vocab& vocab, UnknownUnits unknown,
                          std::string_view source);

}  // namespace charnn
