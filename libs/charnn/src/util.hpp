// Small helpers shared by the library's implementation files (not part of the public API).
#pragma once

#include <charnn/random.hpp>

#include <charconv>
#include <cstdint>
#include <filesystem>
#include <system_error>
#include <string>
#include <string_view>
#include <vector>

namespace charnn::detail {

using charnn::splitmix64;  // the one mixer lives in random.hpp

// Shortest text that reads back as the same float ("0.9", not "0.899999976").
inline std::string format_float(float v) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
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

// The absolute, normalised form of p (symlinks resolved where it exists), so that one file reached
// by two paths is recognised as one.
inline std::filesystem::path absolute_path(const std::filesystem::path& p) {
  std::error_code ec;
  auto canon = std::filesystem::weakly_canonical(p, ec);
  if (!ec) return canon;
  auto abs = std::filesystem::absolute(p, ec);
  return ec ? p : abs.lexically_normal();
}

}  // namespace charnn::detail
