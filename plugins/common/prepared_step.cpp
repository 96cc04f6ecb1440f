// See prepared_step.hpp.
#include "prepared_step.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "vector_loops.hpp"

namespace charnn_cells {

PreparedStep::PreparedStep(std::int64_t input_size, std::int64_t hidden_size, std::int64_t gates)
    : I_(input_size), H_(hidden_size), GH_(gates * hidden_size), stream_(cpu_engine()) {}

void PreparedStep::prepare(const float* params, charnn_precision precision) {
  // Whatever happens below, the old copy is gone: the host may be about to change it.
  params_ = nullptr;
  plans_.clear();
  weights_.clear();
  b_ = {};
  xb_ = {};
  if (!params) return;
  if (precision == CHARNN_PRECISION_BF16) require_native_bf16("prepare_step");
  if (precision == CHARNN_PRECISION_INT8 && !has_native_int8())
    throw Error(CHARNN_ERR_UNSUPPORTED,
                "prepare_step: this CPU has no fast int8 support (AVX512 VNNI)");
  if (precision == CHARNN_PRECISION_INT8) {
    // A NaN or infinite weight has no int8 scale; refusing lets the host fall back to bf16,
    // which carries NaN through to the logits (where the sampler reports it).
    const std::int64_t n = (I_ + H_ + 1) * GH_;
    for (std::int64_t k = 0; k < n; ++k)
      if (!std::isfinite(params[k]))
        throw Error(CHARNN_ERR_UNSUPPORTED, "prepare_step: a non-finite weight (index " +
                                                std::to_string(k) +
                                                ") cannot be quantised to int8");
  }
  dt_ = precision == CHARNN_PRECISION_BF16   ? dt::bf16
        : precision == CHARNN_PRECISION_INT8 ? dt::s8
                                             : dt::f32;
  params_ = params;
}

// The matmul's attributes; for int8 also the quantised weights w_q (K, G*H) and their
// per-column scales, and the plan's int8 buffers.
dnnl::primitive_attr PreparedStep::plan_attr(Plan& pp, std::int64_t N, bool dense,
                                             std::vector<std::int8_t>& w_q) {
  dnnl::primitive_attr attr;
  if (dt_ == dt::s8) {
    const float* from = dense ? params_ : params_ + I_ * GH_;  // (K, G*H) plain rows
    // Symmetric per-column quantisation: w_q = round(w / w_scale[j]), w_scale = max|w| / 127.
    std::vector<float> w_scale(static_cast<std::size_t>(GH_), 0.0f);  // (G*H)
    for (std::int64_t k = 0; k < pp.K; ++k)
      for (std::int64_t j = 0; j < GH_; ++j)
        w_scale[j] = std::max(w_scale[j], std::abs(from[k * GH_ + j]));
    for (auto& sc : w_scale) sc = sc > 0.0f ? sc / 127.0f : 1.0f;
    w_q.resize(static_cast<std::size_t>(pp.K * GH_));
    for (std::int64_t k = 0; k < pp.K; ++k)
      for (std::int64_t j = 0; j < GH_; ++j)
        w_q[k * GH_ + j] = static_cast<std::int8_t>(std::lrint(from[k * GH_ + j] / w_scale[j]));
    pp.scale_args = charnn::onednn::set_weight_column_scales(attr, cpu_engine(), w_scale);
    pp.acc.assign(static_cast<std::size_t>(N * GH_), 0.0f);
    pp.x_scale.assign(static_cast<std::size_t>(N), 1.0f);
  } else if (!dense) {  // accumulate onto the gathered b + w_x[id] already in gates
    dnnl::post_ops po;
    po.append_sum(1.0f);
    attr.set_post_ops(po);
  }
  return attr;
}

// One copy of the weights per layout: plans for other N reuse it when oneDNN picks the same.
void PreparedStep::load_weights(Plan& pp, const memory::desc& w_md,
                                const std::vector<std::int8_t>& w_q) {
  for (const auto& [md, mem] : weights_)
    if (md == w_md) pp.w = mem;  // equal descs: same dims (so same K), same layout
  if (pp.w) return;
  // Reorder (and round, for bf16) the host's plain rows once: w_h alone, or [w_x; w_h]; for
  // int8 the quantised rows (the reorder adds oneDNN's s8s8 compensation).
  const float* from = pp.K == I_ + H_ ? params_ : params_ + I_ * GH_;  // (K, G*H)
  memory plain_w = dt_ == dt::s8 ? memory({{pp.K, GH_}, dt::s8, tag::ab}, cpu_engine(),
                                          const_cast<std::int8_t*>(w_q.data()))
                                 : memory({{pp.K, GH_}, dt::f32, tag::ab}, cpu_engine(),
                                          const_cast<float*>(from));
  pp.w = std::make_shared<memory>(w_md, cpu_engine());
  dnnl::reorder(plain_w, *pp.w).execute(stream_, plain_w, *pp.w);
  stream_.wait();
  weights_.emplace_back(w_md, pp.w);
}

// f32 copies of what the prepared step reads besides the matrices (the contract allows reading
// the host's buffer, but a copy keeps "prepared" meaning one thing for all of it).
void PreparedStep::make_bias_rows() {
  if (!b_.empty()) return;
  const float* w_x = params_;                  // (I, G*H)
  const float* b = params_ + (I_ + H_) * GH_;  // (G*H)
  b_.assign(b, b + GH_);
  xb_.resize(static_cast<std::size_t>(I_ * GH_));
  for (std::int64_t i = 0; i < I_; ++i)
    for (std::int64_t k = 0; k < GH_; ++k) xb_[i * GH_ + k] = b[k] + w_x[i * GH_ + k];
}

PreparedStep::Plan& PreparedStep::plan(std::int64_t N, bool dense) {
  std::unique_ptr<Plan>& slot = plans_[{N, dense, omp_get_max_threads()}];
  if (slot) return *slot;
  auto pp = std::make_unique<Plan>();
  pp->K = dense ? I_ + H_ : H_;
  const memory::desc src_md({N, pp->K}, dt_, tag::ab);
  const memory::desc w_any({pp->K, GH_}, dt_, tag::any);
  const memory::desc b_md({1, GH_}, dt::f32, tag::ab);
  const memory::desc g_md({N, GH_}, dt::f32, tag::ab);
  const bool int8 = dt_ == dt::s8;
  std::vector<std::int8_t> w_q;  // int8: (K, G*H)
  const dnnl::primitive_attr attr = plan_attr(*pp, N, dense, w_q);
  const auto pd = charnn::onednn::make_matmul_pd(cpu_engine(), src_md, w_any,
                                                 dense && !int8 ? &b_md : nullptr, g_md, attr);
  pp->mm.prim = dnnl::matmul(pd);
  load_weights(*pp, pd.weights_desc(), w_q);
  make_bias_rows();
  pp->gates.assign(static_cast<std::size_t>(N * GH_), 0.0f);
  pp->src = memory(src_md, cpu_engine());
  pp->gates_m = wrap(g_md);
  bind(pp->gates_m, int8 ? pp->acc.data() : pp->gates.data());
  pp->mm.add(DNNL_ARG_SRC, pp->src);
  pp->mm.add(DNNL_ARG_WEIGHTS, *pp->w);
  for (const auto& s : pp->scale_args) pp->mm.add(s.arg, s.mem);
  if (dense && !int8) {
    pp->bias = wrap(b_md);
    bind(pp->bias, b_.data());
    pp->mm.add(DNNL_ARG_BIAS, pp->bias);
  }
  pp->mm.add(DNNL_ARG_DST, pp->gates_m);
  slot = std::move(pp);
  return *slot;
}

// Copies n floats into the prepared src row (converting to the prepared precision).
void PreparedStep::put_src(const Plan& pp, std::int64_t row, std::int64_t col, const float* from,
                           std::int64_t n) const {
  void* base = pp.src.get_data_handle();
  const std::int64_t at = row * pp.K + col;
  if (dt_ == dt::f32) {
    std::memcpy(static_cast<float*>(base) + at, from, static_cast<std::size_t>(n) * 4);
  } else if (dt_ == dt::s8) {
    const float x_scale = pp.x_scale[static_cast<std::size_t>(row)];
    if (std::isnan(x_scale))  // non-finite input: the gates are set to NaN after the matmul
      std::memset(static_cast<std::int8_t*>(base) + at, 0, static_cast<std::size_t>(n));
    else
      quantize_s8(from, 1.0f / x_scale, static_cast<std::int8_t*>(base) + at, n);
  } else {
    convert_bf16(from, static_cast<std::uint16_t*>(base) + at, n);
  }
}

// int8: each stream's input scale for this step, max |x| / 127 over what the matmul reads.
void PreparedStep::set_input_scales(Plan& pp, std::int64_t N, const float* src,
                                    const std::int32_t* src_index, const float* state) const {
  for (std::int64_t n = 0; n < N; ++n) {
    // NaN or infinity in the input makes the scale NaN: that stream's gates become NaN after
    // the matmul (as in f32), instead of quantising garbage that would hide a diverged model.
    const float a = max_abs(state + n * H_, H_);
    const float b = src_index ? 0.0f : max_abs(src + n * I_, I_);
    const float m = std::isfinite(a) && std::isfinite(b) ? std::max(a, b) : NAN;
    pp.x_scale[static_cast<std::size_t>(n)] = m > 0.0f ? m / 127.0f : m == 0.0f ? 1.0f : NAN;
  }
}

// int8: gates += x_scale[n] * acc, or NaN for a stream whose input was not finite.
void PreparedStep::apply_input_scales(Plan& pp, std::int64_t N) const {
  for (std::int64_t n = 0; n < N; ++n) {
    const float x_scale = pp.x_scale[static_cast<std::size_t>(n)];
    float* g = pp.gates.data() + n * GH_;
    if (std::isnan(x_scale))
      std::fill(g, g + GH_, NAN);
    else
      add_scaled(g, pp.acc.data() + n * GH_, x_scale, GH_);
  }
}

float* PreparedStep::run(std::int64_t N, const float* src, const std::int32_t* src_index,
                         const float* state) {
  Plan& pp = plan(N, src_index == nullptr);
  const bool int8 = dt_ == dt::s8;
  if (int8) set_input_scales(pp, N, src, src_index, state);
  const std::size_t row_bytes = static_cast<std::size_t>(GH_) * sizeof(float);
  if (src_index) {
    // One-hot input: start from row id of (w_x + b), exactly what the plain path computes.
    for (std::int64_t n = 0; n < N; ++n) {
      const float* row = xb_.data() + static_cast<std::int64_t>(src_index[n]) * GH_;
      std::memcpy(pp.gates.data() + n * GH_, row, row_bytes);
      put_src(pp, n, 0, state + n * H_, H_);
    }
  } else {
    for (std::int64_t n = 0; n < N; ++n) {
      put_src(pp, n, 0, src + n * I_, I_);
      put_src(pp, n, I_, state + n * H_, H_);
    }
  }
  if (int8 && !src_index)
    for (std::int64_t n = 0; n < N; ++n)
      std::memcpy(pp.gates.data() + n * GH_, b_.data(), row_bytes);
  pp.mm.run(stream_);
  stream_.wait();
  if (int8) apply_input_scales(pp, N);
  return pp.gates.data();
}

}  // namespace charnn_cells
