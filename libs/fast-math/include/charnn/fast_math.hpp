// Scalar math of the hottest loops (the cells' pointwise updates, the output layer's softmax):
// exp, sigmoid and tanh written so that GCC vectorises the loops that call them, and float ->
// bfloat16 rounding. Inline and header-only, so that the cell plugins (which link no part of
// libcharnn) and the core library share one definition. Vectorising the clamps needs
// -fno-trapping-math, which the charnn::fast_math target passes on.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>

namespace charnn::math {

// exp with ~1 ulp-class relative error (Cephes expf polynomial, Cody-Waite reduction), written
// so the compiler vectorises loops that call it; std::exp does not vectorise and would dominate
// the one-step sampling path.
inline float fast_exp(float x0) {
  const float x = std::min(88.0f, std::max(-87.0f, x0));
  // Round x*log2(e) to nearest by the 1.5*2^23 trick (no SSE4.1 round instruction needed).
  const float t = x * 1.44269504088896341f + 12582912.0f;
  const float k = t - 12582912.0f;
  const float r = (x - k * 0.693359375f) - k * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const std::int32_t ki = static_cast<std::int32_t>(k);
  const float e = p * std::bit_cast<float>((ki + 127) << 23);
  return x0 == x0 ? e : x0;  // NaN in, NaN out (the clamp alone would hide diverged weights)
}
inline float fast_sigmoid(float x) {
  return 1.0f / (1.0f + fast_exp(-x));
}
// tanh(x) = 2 sigmoid(2x) - 1: absolute error ~1e-7, which is what matters for a state.
inline float fast_tanh(float x) {
  return 2.0f / (1.0f + fast_exp(-2.0f * x)) - 1.0f;
}

// float -> bfloat16 bits, round to nearest even (as oneDNN's reorder does); NaN stays NaN.
inline std::uint16_t to_bf16(float f) {
  const std::uint32_t u = std::bit_cast<std::uint32_t>(f);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<std::uint16_t>((u >> 16) | 0x40u);
  return static_cast<std::uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

}  // namespace charnn::math
