// The one way charnn writes JSON: nlohmann-json documents with keys kept in insertion order,
// numbers in shortest round-trip form, non-finite numbers as null and invalid UTF-8 replaced
// by U+FFFD (a lone byte of a byte-unit vocabulary must not make the whole document fail).
// Include only where JSON is built: it brings in <nlohmann/json.hpp>, which the library links
// privately, so no other public header depends on it.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace charnn {

using Json = nlohmann::ordered_json;
// For float data (activations, probabilities, sampling settings): stored as float, so 0.1f is
// written "0.1" and not as its double expansion "0.10000000149011612".
using FloatJson = nlohmann::basic_json<nlohmann::ordered_map, std::vector, std::string, bool,
                                       std::int64_t, std::uint64_t, float>;

// One line, no spaces after separators.
template <typename J>
std::string json_text(const J& j) {
  return j.dump(-1, ' ', false, nlohmann::detail::error_handler_t::replace);
}

}  // namespace charnn
