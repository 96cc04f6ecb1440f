// Small helpers shared by the library's implementation files (not part of the public API).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace charnn::detail {

// One step of splitmix64: a well-mixed 64-bit value from x. Seeds every derived random stream
// (dropout masks, batch offsets) so results depend only on the seed, on any platform.
inline std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// "a,b,,c" split on ',' gives {"a", "b", "", "c"}; an empty string gives {""}.
inline std::vector<std::string> split_string(const std::string& s, char sep) {
  std::vector<std::string> out(1);
  for (char c : s) {
    if (c == sep)
      out.emplace_back();
    else
      out.back().push_back(c);
  }
  return out;
}

// {"a", "b"} joined with ", " gives "a, b"; an empty list gives "".
inline std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i) out += sep;
    out += parts[i];
  }
  return out;
}

}  // namespace charnn::detail
