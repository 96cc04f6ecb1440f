// The arithmetic precisions of the model's one-step (sampling) and training paths, by name.
// Only the vocabulary: the model prepares and runs the precision it is given, and
// step_precision.hpp decides which one `automatic` becomes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace charnn {

enum class StepPrecision : std::uint8_t {
  automatic = 0,  // for sampling (prepare_step_path): int8 where every layer's plugin has a fast
                  // int8 path and a probe shows it keeps the model's predictions
                  // (int8_probe_limit), else bf16 where the plugins run bfloat16 natively
                  // (AVX512_BF16), else f32; for training: bf16 where the plugins run it
                  // natively, else f32
  f32 = 1,        // float32 weights: the same results as the plain path (up to ~1e-6 rounding)
  bf16 = 2,       // bfloat16 weights, float32 accumulation: logits move by ~1e-4 to 1e-3
  int8 = 3,       // int8 weights (per-column scale) and inputs (per-step scale), int32 sums:
                  // ~3-10x bf16's logit error; sampling only
};
StepPrecision parse_step_precision(std::string_view name);  // "auto" | "f32" | "bf16" | "int8"
std::string to_string(StepPrecision p);                     // "auto" | "f32" | "bf16" | "int8"
// The CPU feature the built-in cells need to run p natively, for messages where a plugin refused
// it: "AVX512_BF16" (bf16), "AVX512 VNNI" (int8), empty for f32 and automatic.
std::string_view native_isa(StepPrecision p);

}  // namespace charnn
