// The small vector loops of the prepared step and the bf16 passes, built for AVX-512 and AVX2
// as well as the baseline and picked once at load time by the CPU (at the baseline SSE2 width
// they were ~5% of a one-stream int8 step).
#pragma once

#include <cstdint>

// Also for the cells' own hot loops. Each plugin library links its own copy (and resolver).
#define CHARNN_CELL_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
// GCC gives a target_clones dispatcher default visibility whatever -fvisibility says; a plugin
// exports nothing but its entry point.
#define CHARNN_CELL_HIDDEN __attribute__((visibility("hidden")))

namespace charnn_cells {

// max |x[k]| over n values (x: (n)). NaN compares above infinity.
CHARNN_CELL_HIDDEN float max_abs(const float* __restrict x, std::int64_t n);
// to[k] = round(from[k] * inv) clamped to [-127, 127], for n values.
CHARNN_CELL_HIDDEN void quantize_s8(const float* __restrict from, float inv,
                                    std::int8_t* __restrict to, std::int64_t n);
// to[k] = from[k] rounded to bfloat16 bits, for n values.
CHARNN_CELL_HIDDEN void convert_bf16(const float* __restrict from, std::uint16_t* __restrict to,
                                     std::int64_t n);
// g[k] += s * a[k], for n values.
CHARNN_CELL_HIDDEN void add_scaled(float* __restrict g, const float* __restrict a, float s,
                                   std::int64_t n);

}  // namespace charnn_cells
