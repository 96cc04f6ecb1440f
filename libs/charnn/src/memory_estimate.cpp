#include "charnn/memory_estimate.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

namespace charnn {

double training_bytes(const TrainingShape& s) {
  const double P = static_cast<double>(s.parameters);
  const double steps = static_cast<double>(s.seq_len) * static_cast<double>(s.batch);
  // w, grad, adam m and v, the weight average (--ema); a bf16 copy
  const double weights = P * (5 * 4 + 2);
  const double activations = steps * static_cast<double>(s.layers) *
                             static_cast<double>(s.hidden) * 12 * 4;
  const double output = steps * static_cast<double>(s.vocab) * 3 * 4;
  return weights + activations + output;
}

namespace {

// The first number on the line of /proc/meminfo that starts with key, in bytes.
std::optional<double> meminfo(const std::string& key) {
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) {
      std::istringstream fields(line.substr(key.size()));
      double kb = 0;
      if (fields >> kb) return kb * 1024;
    }
  return std::nullopt;
}

std::optional<double> number_in(const char* path) {
  std::ifstream in(path);
  std::string text;
  if (!(in >> text) || text == "max") return std::nullopt;
  try {
    return std::stod(text);
  } catch (...) {
    return std::nullopt;
  }
}

}  // namespace

std::optional<double> available_memory_bytes() {
  std::optional<double> free = meminfo("MemAvailable:");
  // cgroup v2: a container's limit, less what it already uses.
  const auto limit = number_in("/sys/fs/cgroup/memory.max");
  const auto used = number_in("/sys/fs/cgroup/memory.current");
  if (limit) {
    const double left = std::max(0.0, *limit - used.value_or(0));
    free = free ? std::min(*free, left) : left;
  }
  return free;
}

std::string bytes_text(double bytes) {
  static const char* const kUnits[] = {"bytes", "kB", "MB", "GB", "TB", "PB", "EB"};
  int u = 0;
  while (bytes >= 1000 && u < 6) {
    bytes /= 1000;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", bytes, kUnits[u]);
  return buf;
}

}  // namespace charnn
