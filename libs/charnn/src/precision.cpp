// Names of the step precisions, for options, logs and checkpoints.
#include "charnn/precision.hpp"

#include "enum_names.hpp"

namespace charnn {

namespace {
constexpr detail::EnumNames<StepPrecision, 4> kNames{{{StepPrecision::automatic, "auto"},
                                                      {StepPrecision::f32, "f32"},
                                                      {StepPrecision::bf16, "bf16"},
                                                      {StepPrecision::int8, "int8"}}};
}  // namespace

StepPrecision parse_step_precision(std::string_view name) {
  return detail::parse_name(kNames, name, "precision");
}

std::string to_string(StepPrecision p) {
  return detail::name_of(kNames, p);
}

std::string_view native_isa(StepPrecision p) {
  switch (p) {
    case StepPrecision::bf16:
      return "AVX512_BF16";
    case StepPrecision::int8:
      return "AVX512 VNNI";
    default:
      return {};
  }
}

}  // namespace charnn
