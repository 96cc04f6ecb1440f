// See prepared_step.hpp.
#include "prepared_step.hpp"

#include <cstring>

namespace charnn_cells {

PreparedStep::PreparedStep(std::int64_t input_size, std::int64_t hidden_size, std::int64_t gates)
    : I_(input_size),
      H_(hidden_size),
      GH_(gates * hidden_size),
      xh_(input_size + hidden_size, gates * hidden_size),
      h_(hidden_size, gates * hidden_size) {}

void PreparedStep::prepare(const float* params, charnn_precision precision) {
  // Whatever happens below, the old copy is gone: the host may be about to change it.
  params_ = nullptr;
  xh_.prepare(nullptr, dt::f32, "");
  h_.prepare(nullptr, dt::f32, "");
  b_ = {};
  xb_ = {};
  if (!params) return;
  const dt type = prepared_type(precision, "prepare_step");
  xh_.prepare(params, type, "[w_x; w_h]");
  h_.prepare(params + I_ * GH_, type, "w_h");
  const float* b = params + (I_ + H_) * GH_;
  b_.assign(b, b + GH_);
  xb_.resize(static_cast<std::size_t>(I_ * GH_));
  for (std::int64_t i = 0; i < I_; ++i)
    for (std::int64_t k = 0; k < GH_; ++k) xb_[i * GH_ + k] = b[k] + params[i * GH_ + k];
  params_ = params;
}

float* PreparedStep::run(std::int64_t N, const float* src, const std::int32_t* src_index,
                         const float* state) {
  gates_.resize(static_cast<std::size_t>(N * GH_));
  const std::size_t row_bytes = static_cast<std::size_t>(GH_) * sizeof(float);
  for (std::int64_t n = 0; n < N; ++n) {
    // One-hot input: start from row id of (w_x + b), exactly what the plain path computes.
    const float* row = src_index ? xb_.data() + static_cast<std::int64_t>(src_index[n]) * GH_
                                 : b_.data();
    std::memcpy(gates_.data() + n * GH_, row, row_bytes);
  }
  if (src_index)
    h_.add_to(N, {{state, H_}}, gates_.data());
  else
    xh_.add_to(N, {{src, I_}, {state, H_}}, gates_.data());
  return gates_.data();
}

}  // namespace charnn_cells
