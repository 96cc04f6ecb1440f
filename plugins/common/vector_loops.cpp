// See vector_loops.hpp.
#include "vector_loops.hpp"

#include <algorithm>
#include <bit>

#include "fast_math.hpp"

namespace charnn_cells {

// Compares the bit patterns with the sign cleared: an integer max reduction vectorises; a float
// one would not without -ffast-math.
CHARNN_CELL_CLONES float max_abs(const float* __restrict x, std::int64_t n) {
  std::uint32_t m = 0;
  for (std::int64_t k = 0; k < n; ++k)
    m = std::max(m, std::bit_cast<std::uint32_t>(x[k]) & 0x7FFFFFFFu);
  return std::bit_cast<float>(m);
}
// Rounds by the 1.5*2^23 trick, not std::nearbyint (a libm call per element at the baseline ISA).
CHARNN_CELL_CLONES void quantize_s8(const float* __restrict from, float inv,
                                    std::int8_t* __restrict to, std::int64_t n) {
  for (std::int64_t k = 0; k < n; ++k) {
    const float v = std::clamp(from[k] * inv, -127.0f, 127.0f);
    to[k] = static_cast<std::int8_t>(static_cast<int>((v + 12582912.0f) - 12582912.0f));
  }
}
CHARNN_CELL_CLONES void convert_bf16(const float* __restrict from, std::uint16_t* __restrict to,
                                     std::int64_t n) {
  for (std::int64_t k = 0; k < n; ++k) to[k] = to_bf16(from[k]);
}
CHARNN_CELL_CLONES void add_scaled(float* __restrict g, const float* __restrict a, float s,
                                   std::int64_t n) {
  for (std::int64_t k = 0; k < n; ++k) g[k] += s * a[k];
}

}  // namespace charnn_cells
