// Deterministic test data for the cell tests. The finite-difference gradient check itself is the
// library's (charnn/cell_checks.hpp), shared with `charnn check-cell`.
#pragma once

#include <charnn/random.hpp>

#include <cstdint>
#include <vector>

namespace charnn::test {

// Deterministic test data (splitmix64), identical on every platform.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : mix_(seed) {}
  std::uint64_t next() { return mix_.next(); }
  // Uniform in [-a, a).
  float uniform1(float a) { return mix_.uniform_sym(a); }
  std::vector<float> uniform(std::int64_t n, float a) {
    std::vector<float> v(static_cast<size_t>(n));
    for (auto& x : v) x = uniform1(a);
    return v;
  }

 private:
  charnn::SplitMix64 mix_;
};

}  // namespace charnn::test
