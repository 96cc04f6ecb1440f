// Which weights the one-step sampling path uses: the policy above the model. The model only
// prepares the precision it is asked for (Model::prepare_inference); this unit decides what
// `automatic` means here, by asking the layers' plugins what they offer and measuring int8
// against float32 on text the model writes itself.
#pragma once

#include <charnn/precision.hpp>

#include <cstdint>
#include <string>

namespace charnn {

class Model;

// automatic sampling keeps int8 only if, over int8_probe_units units the float32 model writes
// itself (temperature 1, fixed seed), int8's predictions stay within this mean KL divergence
// of float32's, in nats per unit. On War and Peace models int8 measured ~1e-3 (bench/RESULTS.md).
inline constexpr double int8_probe_limit = 0.01;
inline constexpr std::int64_t int8_probe_units = 256;

// What automatic resolves to on this CPU for the built-in cells, without int8: bf16 where oneDNN
// runs bfloat16 natively (AVX512_BF16), else f32. For reports and benchmarks; the choice itself
// (prepare_step_path, Model::set_train_precision) asks the plugins, which know their own CPU needs.
StepPrecision default_step_precision();

// On a CPU with AMX, oneDNN 2.6 runs even a one-row int8 or bf16 product on its AMX kernels,
// which for one or two rows are slower there than its AVX-512 ones; it offers no per-primitive
// choice, only a process-wide cap on the ISA. This sets that cap to AVX512_CORE_BF16 when `rows`
// (the streams a step carries) is at most kFewRows, the CPU has AMX, and the user has not set
// ONEDNN_MAX_CPU_ISA or DNNL_MAX_CPU_ISA. Call it before the first oneDNN kernel is made; it
// does nothing after. The text sampled is the same either way. Returns whether it capped.
inline constexpr std::int64_t kFewRows = 2;
bool avoid_amx_for_few_rows(std::int64_t rows);

// Prepares model's one-step path for sampling and returns a summary for logs, e.g. "bf16" or
// "int8 (0.0012 nats/unit from f32 on a 256-unit probe)". f32, bf16 and int8 are passed to
// Model::prepare_inference as they are; where a layer did not take one, the summary names what
// was asked for, e.g. "f32 (bf16 was asked for: ...; it needs AVX512_BF16)". automatic asks the
// plugins for int8 (each falls back to bf16, then f32, where it lacks it); when every layer got
// int8, the plain float32 path writes a probe text and int8 is kept only if it reads that text
// within int8_limit of float32 (~0.1 s for a 2x512 LSTM), else the model gets bf16 (or what the
// plugins offer below it). The probe leaves no trace: the same model and arguments always give the
// same choice. A summary ends in "; output layer bf16" where the output layer got its bf16 copy
// (Model::output_step_bf16), which the int8 probe then includes.
std::string prepare_step_path(Model& model, StepPrecision precision = StepPrecision::automatic,
                              double int8_limit = int8_probe_limit);

}  // namespace charnn
