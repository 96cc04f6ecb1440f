// The one way charnn writes JSON: nlohmann-json documents with keys kept in insertion order,
// numbers in shortest round-trip form, non-finite numbers as null and invalid UTF-8 replaced
// by U+FFFD (a lone byte of a byte-unit vocabulary must not make the whole document fail).
// Include only where JSON is built: it brings in <nlohmann/json.hpp>, which the library links
// privately, so no other public header depends on it.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace charnn {

using Json = nlohmann::ordered_json;
// For float data (activations, probabilities, sampling settings): stored as float, so 0.1f is
// written "0.1" and not as its double expansion "0.10000000149011612".
using FloatJson = nlohmann::basic_json<nlohmann::ordered_map, std::vector, std::string, bool,
                                       std::int64_t, std::uint64_t, float>;

// U+2028/U+2029 are valid in JSON strings but end lines in JavaScript: escaped, so that every
// document charnn writes can also be pasted into a script.
inline std::string escape_line_separators(std::string out) {
  for (std::size_t i = out.find("\xE2\x80"); i != std::string::npos; i = out.find("\xE2\x80", i)) {
    if (i + 2 < out.size() && (out[i + 2] == '\xA8' || out[i + 2] == '\xA9')) {
      out.replace(i, 3, out[i + 2] == '\xA8' ? "\\u2028" : "\\u2029");
      i += 6;
    } else {
      i += 2;
    }
  }
  return out;
}

// One line, no spaces after separators.
template <typename J>
std::string json_text(const J& j) {
  return escape_line_separators(j.dump(-1, ' ', false, nlohmann::detail::error_handler_t::replace));
}

// Indented by two spaces, for files people read (config.json).
template <typename J>
std::string json_pretty(const J& j) {
  return escape_line_separators(j.dump(2, ' ', false, nlohmann::detail::error_handler_t::replace));
}

// text as a JSON string literal (quotes included).
inline std::string json_string(std::string_view text) {
  return json_text(Json(std::string(text)));
}

}  // namespace charnn
