// See option_values.hpp.
#include "option_values.hpp"
#include "util.hpp"

#include <charnn/error.hpp>
#include <charnn/train_config.hpp>

#include <charconv>
#include <cmath>
#include <cstdlib>

namespace charnn::detail::option_values {

namespace {

template <class T>
std::string shortest_text(T v) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

}  // namespace

std::string real_text(double v) { return shortest_text(v); }
std::string float_text(float v) { return shortest_text(v); }

// A value with a NUL or trailing bytes is not a number, and neither is one out of range
// (strtoll would saturate, and config.json would record another).
std::int64_t parse_int(const std::string& s) {
  std::int64_t x = 0;
  const char* last = s.data() + s.size();
  const bool plus = !s.empty() && s[0] == '+' && (s.size() < 2 || s[1] != '-');
  const auto [end, ec] = std::from_chars(s.data() + plus, last, x);
  if (ec == std::errc::result_out_of_range) throw error("'" + s + "' is out of range");
  if (s.empty() || ec != std::errc() || end != last) throw error("'" + s + "' is not an integer");
  return x;
}

std::uint64_t parse_seed(const std::string& s) {
  std::uint64_t x = 0;
  const char* last = s.data() + s.size();
  const auto [end, ec] = std::from_chars(s.data(), last, x);
  if (s.empty() || ec != std::errc() || end != last)
    throw error("'" + s + "' is not a seed (a whole number from 0 to 18446744073709551615)", {},
                2);
  return x;
}

double parse_real(const std::string& s) {
  char* end = nullptr;
  const double x = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size()) throw error("'" + s + "' is not a number");
  if (std::isinf(x) && s.find_first_of("iI") == std::string::npos)
    throw error("'" + s + "' is out of range");
  return x;
}

std::string auto_int_text(std::int64_t v) {
  return v == kAuto ? std::string("auto") : std::to_string(v);
}

std::int64_t parse_auto_int(const std::string& s) {
  if (s == "auto") return kAuto;
  try {
    return parse_int(s);
  } catch (const error&) {
    throw error("'" + s + "' is neither 'auto' nor an integer", {}, 2);
  }
}

std::string auto_real_text(double v, double sentinel) {
  return v == sentinel ? std::string("auto") : real_text(v);
}

double parse_auto_real(const std::string& s, double sentinel) {
  if (s == "auto") return sentinel;
  try {
    return parse_real(s);
  } catch (const error&) {
    throw error("'" + s + "' is neither 'auto' nor a number", {}, 2);
  }
}

TrainConfig::ProgressMode parse_progress(const std::string& s) {
  if (s == "auto") return TrainConfig::ProgressMode::automatic;
  if (s == "live") return TrainConfig::ProgressMode::live;
  if (s == "plain") return TrainConfig::ProgressMode::plain;
  if (s == "quiet") return TrainConfig::ProgressMode::quiet;
  if (s == "json") return TrainConfig::ProgressMode::json;
  throw error("unknown progress mode '" + s + "'", "use auto, live, plain, quiet or json", 2);
}

std::vector<std::string> cell_list(const std::string& s) {
  std::string compact;
  for (char ch : s)
    if (ch != ' ') compact.push_back(ch);
  return split_string(compact, ',');
}

std::string common_cell(const TrainConfig& c) {
  for (const auto& name : c.cells)
    if (name != c.cells.front()) return detail::join(c.cells, ",");
  return c.cells.empty() ? std::string() : c.cells.front();
}

std::string minutes_text(double seconds) {
  return std::to_string(static_cast<long long>(seconds / 60)) + "m";
}

}  // namespace charnn::detail::option_values
