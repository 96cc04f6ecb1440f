// The deterministic data the cell checks and the gradient check feed a cell (cell_checks.cpp,
// gradcheck.cpp): the same numbers on every machine. Internal to the library.
#pragma once

#include <charnn/cell.hpp>
#include <charnn/random.hpp>

#include <cstdint>
#include <vector>

namespace charnn::detail {

using Floats = std::vector<float>;

// Deterministic data: the same on every machine.
class Data {
 public:
  explicit Data(std::uint64_t seed) : mix_(seed) {}
  float one(float a) { return mix_.uniform_sym(a); }
  Floats uniform(std::int64_t n, float a) {
    Floats v(static_cast<std::size_t>(n));
    for (auto& x : v) x = one(a);
    return v;
  }
  std::uint64_t next() { return mix_.next(); }

 private:
  SplitMix64 mix_;
};

// The plugin's own initialisation plus noise, so that parts it sets to zero (biases) are
// exercised away from zero too.
inline Floats noisy_params(const Cell& cell, std::uint64_t seed, float noise) {
  Floats p(static_cast<std::size_t>(cell.param_count()));
  cell.init_params(p, seed);
  Data d(seed ^ 0xABCDu);
  for (auto& x : p) x += d.one(noise);
  return p;
}

}  // namespace charnn::detail
