// See step_gates.hpp.
#include "step_gates.hpp"

#include <charnn/onednn_compat.hpp>

#include <cstring>

namespace charnn_cells {

StepGates::StepGates(std::int64_t input_size, std::int64_t hidden_size, std::int64_t gates)
    : I_(input_size), H_(hidden_size), GH_(gates * hidden_size), stream_(cpu_engine()) {}

StepGates::Plan& StepGates::plan(std::int64_t N) {
  auto& slot = plans_[N];
  if (slot) return *slot;
  auto pl = std::make_unique<Plan>();
  pl->gates.assign(static_cast<size_t>(N * GH_), 0.0f);
  if (N > kSmallN) {  // small N uses small_gemm_acc instead of these primitives
    const memory::desc xh_md({N, I_ + H_}, dt::f32, tag::ab);
    const memory::desc wxh_md({I_ + H_, GH_}, dt::f32, tag::ab);
    const memory::desc h_md({N, H_}, dt::f32, tag::ab);
    const memory::desc wh_md({H_, GH_}, dt::f32, tag::ab);
    const memory::desc b_md({1, GH_}, dt::f32, tag::ab);
    const memory::desc g_md({N, GH_}, dt::f32, tag::ab);
    pl->xh_buf.assign(static_cast<size_t>(N * (I_ + H_)), 0.0f);
    pl->xh = wrap(xh_md);
    pl->w_xh = wrap(wxh_md);
    pl->h = wrap(h_md);
    pl->w_h = wrap(wh_md);
    pl->bias = wrap(b_md);
    pl->gates_m = wrap(g_md);
    bind(pl->xh, pl->xh_buf.data());
    bind(pl->gates_m, pl->gates.data());
    using charnn::onednn::make_matmul_pd;
    pl->mm_xh.prim = dnnl::matmul(make_matmul_pd(cpu_engine(), xh_md, wxh_md, &b_md, g_md));
    pl->mm_xh.add(DNNL_ARG_SRC, pl->xh);
    pl->mm_xh.add(DNNL_ARG_WEIGHTS, pl->w_xh);
    pl->mm_xh.add(DNNL_ARG_BIAS, pl->bias);
    pl->mm_xh.add(DNNL_ARG_DST, pl->gates_m);
    pl->mm_h.prim = dnnl::matmul(make_matmul_pd(cpu_engine(), h_md, wh_md, &b_md, g_md));
    pl->mm_h.add(DNNL_ARG_SRC, pl->h);
    pl->mm_h.add(DNNL_ARG_WEIGHTS, pl->w_h);
    pl->mm_h.add(DNNL_ARG_BIAS, pl->bias);
    pl->mm_h.add(DNNL_ARG_DST, pl->gates_m);
  }
  slot = std::move(pl);
  return *slot;
}

void StepGates::run_small(Plan& pl, std::int64_t N, const float* params, const float* src,
                          const std::int32_t* src_index, const float* state) {
  const float* w_x = params;                  // (I, G*H)
  const float* w_h = params + I_ * GH_;       // (H, G*H)
  const float* b = params + (I_ + H_) * GH_;  // (G*H)
  for (std::int64_t n = 0; n < N; ++n) {
    float* g = pl.gates.data() + n * GH_;
    if (src_index) {
      // One-hot input: x . w_x is row src_index[n] of w_x, so gather it instead of multiplying.
      const float* row = w_x + static_cast<std::int64_t>(src_index[n]) * GH_;
      for (std::int64_t k = 0; k < GH_; ++k) g[k] = b[k] + row[k];
    } else {
      std::memcpy(g, b, GH_ * sizeof(float));
    }
  }
  if (!src_index) small_gemm_acc(src, w_x, pl.gates.data(), N, I_, GH_);
  small_gemm_acc(state, w_h, pl.gates.data(), N, H_, GH_);
}

float* StepGates::run(std::int64_t N, const float* params, const float* src,
                      const std::int32_t* src_index, const float* state) {
  Plan& pl = plan(N);
  if (N <= kSmallN) {
    run_small(pl, N, params, src, src_index, state);
    return pl.gates.data();
  }
  const float* w_x = params;             // (I, G*H)
  const float* w_h = params + I_ * GH_;  // (H, G*H)
  bind(pl.bias, params + (I_ + H_) * GH_);
  if (src_index) {
    bind(pl.h, state);
    bind(pl.w_h, w_h);
    pl.mm_h.run(stream_);
    stream_.wait();
    for (std::int64_t n = 0; n < N; ++n) {
      float* g = pl.gates.data() + n * GH_;
      const float* row = w_x + static_cast<std::int64_t>(src_index[n]) * GH_;
      for (std::int64_t k = 0; k < GH_; ++k) g[k] += row[k];
    }
  } else {
    for (std::int64_t n = 0; n < N; ++n) {
      float* xh = pl.xh_buf.data() + n * (I_ + H_);
      std::memcpy(xh, src + n * I_, I_ * sizeof(float));
      std::memcpy(xh + I_, state + n * H_, H_ * sizeof(float));
    }
    bind(pl.w_xh, params);
    pl.mm_xh.run(stream_);
    stream_.wait();
  }
  return pl.gates.data();
}

}  // namespace charnn_cells
