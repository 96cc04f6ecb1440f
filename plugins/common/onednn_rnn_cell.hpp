// Shared machinery of the built-in cells (elman, lstm): one recurrent layer on a oneDNN RNN
// primitive (L = 1 layer, D = 1 direction), with primitives and memory objects cached per (T, N)
// so that nothing is created or allocated after the first call with a shape. (The LSTM overrides
// forward and backward with its own matmul-based passes, lstm/lstm_sequence.hpp; Elman uses these.)
//
// Parameter layout (the flat buffer the host gives us), G gates, I input width, H hidden width:
//   w_x (I, G, H)   oneDNN's ldigo with L = D = 1, i.e. a row-major (I, G*H) matrix
//   w_h (H, G, H)   ldigo, a row-major (H, G*H) matrix
//   b   (G, H)      ldgo
// forward reads them in place. oneDNN's backward wants ldgoi weights, so backward reorders w_x
// and w_h once per call into buffers the instance owns; its weight gradients are in ldigo and
// oneDNN adds them straight into the host's diff_params (the ABI's accumulate semantics).
// Plain tags throughout: format_tag::any picks padded strides (G*H rounded up), which would
// need reorders of every host buffer and measured no faster here (T=50, N=50, H=512).
// Because w_x and w_h sit back to back, params[0 : (I+H)*G*H] is also the (I+H, G*H) matrix
// [w_x; w_h]: the one-step path for many streams uses it as a single matmul on [x, h].
//
// Prepared one-step path (plugin ABI 1.1, prepare_step): for sampling, the weights are copied
// once into the layout oneDNN's matmul picks for them (format_tag::any, a blocked layout its
// brgemm kernels stream fastest), optionally rounded to bfloat16, which halves the bytes read per
// step: the one-stream step is bound by streaming the weights from cache. step() then runs one
// matmul per layer on the prepared copy. See bench/RESULTS.md, "prepared one-step path".
//
// A derived cell supplies the primitive descriptors and the pointwise part of one step (the
// gate nonlinearities and state update), which step() and trace() share.
#pragma once

#include <omp.h>
#include <charnn/plugin.hpp>
#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

namespace charnn_cells {

using charnn::plugin::Error;
using dnnl::memory;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

// splitmix64: a tiny, well-mixed generator whose output is the same everywhere (unlike the
// std:: distributions, whose results differ across standard libraries).
inline std::uint64_t splitmix64(std::uint64_t& s) {
  std::uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
// Uniform in [-a, a), from the top 24 bits so every value is exactly representable.
inline float uniform_sym(std::uint64_t& s, float a) {
  float u = static_cast<float>(splitmix64(s) >> 40) * (1.0f / 16777216.0f);
  return (2.0f * u - 1.0f) * a;
}

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

// Y (N, M) += X (N, K) . W (K, M), all row-major, for a few rows N: the one-step sampling
// path, where the cost is streaming W from cache or memory once. oneDNN's sgemm was measured as
// fast as a hand-written AVX-512 loop here and twice as fast as the matmul primitive at N = 1
// (no primitive dispatch per call), so the plugins use it and keep all heavy math in oneDNN.
inline void small_gemm_acc(const float* x, const float* w, float* y, std::int64_t N, std::int64_t K,
                           std::int64_t M) {
  const dnnl_status_t st = dnnl_sgemm('N', 'N', N, M, K, 1.0f, x, K, w, M, 1.0f, y, M);
  if (st != dnnl_success)
    throw Error(CHARNN_ERR_BACKEND, "oneDNN sgemm failed with status " + std::to_string(st));
}

// float -> bfloat16 bits, round to nearest even (as oneDNN's reorder does); NaN stays NaN.
inline std::uint16_t to_bf16(float f) {
  const std::uint32_t u = std::bit_cast<std::uint32_t>(f);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<std::uint16_t>((u >> 16) | 0x40u);
  return static_cast<std::uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

// Whether oneDNN runs bfloat16 matmuls natively here (AVX512_BF16 or newer). Without it oneDNN
// 2.6 has no fast bf16 matmul, so the prepared path refuses CHARNN_PRECISION_BF16.
inline bool has_native_bf16() {
  const auto isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
  const auto need = static_cast<unsigned>(dnnl::cpu_isa::avx512_core_bf16);
  return (isa & need) == need;
}

// The prepared step's small vector loops, also built for AVX-512 and AVX2 and picked once at
// load time by the CPU (at the baseline SSE2 width they were ~5% of a one-stream int8 step).
// static: each plugin library gets its own copy (and resolver).
#define CHARNN_CELL_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

// max |x[k]|, by comparing the bit patterns with the sign cleared (an integer max reduction
// vectorises; a float one would not without -ffast-math). NaN compares above infinity.
CHARNN_CELL_CLONES static float max_abs(const float* __restrict x, std::int64_t n) {
  std::uint32_t m = 0;
  for (std::int64_t k = 0; k < n; ++k)
    m = std::max(m, std::bit_cast<std::uint32_t>(x[k]) & 0x7FFFFFFFu);
  return std::bit_cast<float>(m);
}
// to[k] = round(from[k] * inv) clamped to [-127, 127]. Rounds by the 1.5*2^23 trick, not
// std::nearbyint (a libm call per element at the baseline ISA).
CHARNN_CELL_CLONES static void quantize_s8(const float* __restrict from, float inv,
                                           std::int8_t* __restrict to, std::int64_t n) {
  for (std::int64_t k = 0; k < n; ++k) {
    const float v = std::clamp(from[k] * inv, -127.0f, 127.0f);
    to[k] = static_cast<std::int8_t>(static_cast<int>((v + 12582912.0f) - 12582912.0f));
  }
}
CHARNN_CELL_CLONES static void convert_bf16(const float* __restrict from,
                                            std::uint16_t* __restrict to, std::int64_t n) {
  for (std::int64_t k = 0; k < n; ++k) to[k] = to_bf16(from[k]);
}
// g[k] += s * a[k]
CHARNN_CELL_CLONES static void add_scaled(float* __restrict g, const float* __restrict a, float s,
                                          std::int64_t n) {
  for (std::int64_t k = 0; k < n; ++k) g[k] += s * a[k];
}

// Whether oneDNN has its fast int8 matmul here (AVX512 VNNI); the prepared path refuses
// CHARNN_PRECISION_INT8 otherwise.
inline bool has_native_int8() {
  const auto isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
  const auto need = static_cast<unsigned>(dnnl::cpu_isa::avx512_core_vnni);
  return (isa & need) == need;
}

// oneDNN throws dnnl::error; at our boundary that is a backend failure, not an internal bug.
template <class F>
void backend_guard(const char* what, F&& body) {
  try {
    body();
  } catch (const dnnl::error& e) {
    throw Error(CHARNN_ERR_BACKEND, std::string(what) + ": oneDNN: " + e.what());
  }
}

inline dnnl::engine& cpu_engine() {
  static dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  return eng;
}

// A primitive with its argument list prepared once; host buffers are plugged in per call with
// set_data_handle, and execution goes through the C API so no argument map is built per call.
struct Prepared {
  dnnl::primitive prim;
  std::vector<dnnl_exec_arg_t> args;
  void add(int arg, const memory& m) { args.push_back({arg, m.get()}); }
  void run(dnnl::stream& s) const {
    dnnl::error::wrap_c_api(
        dnnl_primitive_execute(prim.get(), s.get(), static_cast<int>(args.size()), args.data()),
        "could not execute a primitive");
  }
};

// A memory object that wraps a host buffer given per call (no storage of its own).
inline memory wrap(const memory::desc& md) {
  return memory(md, cpu_engine(), DNNL_MEMORY_NONE);
}
inline void bind(const memory& m, const float* p) {
  m.set_data_handle(const_cast<float*>(p));  // oneDNN takes void*; inputs are only read
}

// Memory descriptors of one layer for a sequence of T steps and N streams. In a bfloat16
// training plan the matrix products' inputs (src_layer, src_iter, the weights) and dst_layer /
// dst_iter are bf16; the cell state c, the bias and every gradient stay f32.
struct SeqDescs {
  memory::desc src_layer;       // (T, N, I) tnc
  memory::desc src_iter;        // (1, 1, N, H) ldnc: h
  memory::desc w_layer;         // (1, 1, I, G, H) ldigo (forward)
  memory::desc w_iter;          // (1, 1, H, G, H) ldigo (forward)
  memory::desc w_layer_b;       // (1, 1, I, G, H) ldgoi (backward)
  memory::desc w_iter_b;        // (1, 1, H, G, H) ldgoi (backward)
  memory::desc bias;            // (1, 1, G, H) ldgo, f32
  memory::desc dst_layer;       // (T, N, H) tnc
  memory::desc dst_iter;        // (1, 1, N, H) ldnc: h
  memory::desc diff_src_layer;  // (T, N, I) tnc f32
  memory::desc diff_dst_layer;  // (T, N, H) tnc f32
  memory::desc diff_iter;       // (1, 1, N, H) ldnc f32: h (also the f32 view of h in bf16)
  memory::desc diff_w_layer;    // (1, 1, I, G, H) ldigo f32
  memory::desc diff_w_iter;     // (1, 1, H, G, H) ldigo f32
};

class OnednnRnnCell : public charnn::plugin::Cell {
 public:
  OnednnRnnCell(std::int64_t input_size, std::int64_t hidden_size, std::int64_t gates,
                std::int64_t states)
      : I_(input_size), H_(hidden_size), G_(gates), S_(states), stream_(cpu_engine()) {
    backend_guard("create", [&] {
      // Views of the host's weights; the backward-layout copies are made with the first
      // training plan, since a cell that never trains (sampling) never reads them.
      w_layer_f_ = wrap(memory::desc({1, 1, I_, G_, H_}, dt::f32, tag::ldigo));
      w_iter_f_ = wrap(memory::desc({1, 1, H_, G_, H_}, dt::f32, tag::ldigo));
    });
  }

  std::vector<charnn_tensor_info> params() const override {
    // Elman (G = 1) shows its tensors without the unit gate axis; the bytes are the same.
    if (G_ == 1) return {{"w_x", 2, {I_, H_}}, {"w_h", 2, {H_, H_}}, {"b", 1, {H_}}};
    return {{"w_x", 3, {I_, G_, H_}}, {"w_h", 3, {H_, G_, H_}}, {"b", 2, {G_, H_}}};
  }

  void init_params(float* p, std::uint64_t seed) const override {
    // uniform(-1/sqrt(H), 1/sqrt(H)) for the weights (the usual fan-in rule for recurrent
    // layers), biases from bias_init().
    std::uint64_t s = seed;
    const float a = 1.0f / std::sqrt(static_cast<float>(H_));
    const std::int64_t nw = (I_ + H_) * G_ * H_;
    for (std::int64_t k = 0; k < nw; ++k) p[k] = uniform_sym(s, a);
    bias_init(p + nw);
  }

  void forward(const charnn_forward_args& a) override {
    check_seq(a.T, a.N, a.params, a.src, a.dst, "forward");
    backend_guard("forward", [&] {
      SeqPlan& pl = seq_plan(a.T, a.N, a.training != 0);
      const float* state_in = a.state_in;
      if (a.training) {
        // Keep the initial state for backward: a host that carries state in place
        // (state_in == state_out) has overwritten it by then.
        if (state_in)
          std::memcpy(pl.state_in.data(), state_in, pl.state_in.size() * sizeof(float));
        else
          std::fill(pl.state_in.begin(), pl.state_in.end(), 0.0f);
        state_in = pl.state_in.data();
      }
      bind_forward(pl, a.params, a.src, state_in, a.dst);
      if (pl.bf16)
        for (const Prepared* r : {&pl.cvt_w_layer, &pl.cvt_w_iter, &pl.cvt_src, &pl.cvt_h_in})
          r->run(stream_);
      pl.fwd.run(stream_);
      if (pl.bf16) {
        pl.cvt_dst.run(stream_);
        pl.cvt_h_out.run(stream_);
      }
      stream_.wait();
      if (a.state_out)
        std::memcpy(a.state_out, pl.state_out.data(), pl.state_out.size() * sizeof(float));
      if (a.training) {
        trained_ = &pl;
        trained_T_ = a.T;
        trained_N_ = a.N;
      }
    });
  }

  void backward(const charnn_backward_args& a) override {
    check_seq(a.T, a.N, a.params, a.src, a.dst, "backward");
    if (!a.diff_dst || !a.diff_params)
      throw Error(CHARNN_ERR_ARGUMENT, "backward: diff_dst and diff_params are required");
    if (!trained_ || trained_T_ != a.T || trained_N_ != a.N)
      throw Error(CHARNN_ERR_STATE, "backward: no training forward with T=" + std::to_string(a.T) +
                                        ", N=" + std::to_string(a.N) + " precedes it on this cell");
    backend_guard("backward", [&] {
      SeqPlan& pl = *trained_;
      const std::int64_t wl = I_ * G_ * H_, wi = H_ * G_ * H_;
      bind(w_layer_f_, a.params);
      bind(w_iter_f_, a.params + wl);
      if (pl.bf16) {
        // src_layer, src_iter, dst_layer and dst_iter are the plan's own bf16 copies, still as
        // the training forward left them.
        reorder_layer_bf_.run(stream_);
        reorder_iter_bf_.run(stream_);
      } else {
        reorder_layer_.run(stream_);
        reorder_iter_.run(stream_);
        // The initial state as forward saw it (a.state_in may have been overwritten since).
        bind(pl.src_layer, a.src);
        bind(pl.src_iter, pl.state_in.data());
        bind(pl.dst_layer, a.dst);
        // dst_iter is what forward wrote into the plan (the host need not keep state_out).
        bind(pl.dst_iter, pl.state_out.data());
      }
      bind(pl.bias, a.params + wl + wi);
      bind(pl.diff_src_layer, a.diff_src ? a.diff_src : pl.scratch_src.data());
      float* dsi = a.diff_state_in ? a.diff_state_in : pl.scratch_state.data();
      bind(pl.diff_src_iter, dsi);
      bind(pl.diff_w_layer, a.diff_params);
      bind(pl.diff_w_iter, a.diff_params + wl);
      bind(pl.diff_bias, a.diff_params + wl + wi);
      bind(pl.diff_dst_layer, a.diff_dst);
      // A copy, so diff_state_in may be the same buffer as diff_state_out.
      const float* dso = pl.zeros.data();
      if (a.diff_state_out) {
        std::memcpy(pl.diff_state_out.data(), a.diff_state_out,
                    pl.diff_state_out.size() * sizeof(float));
        dso = pl.diff_state_out.data();
      }
      bind(pl.diff_dst_iter, dso);
      pl.bwd.run(stream_);
      stream_.wait();
    });
  }

  void step(const charnn_step_args& a) override {
    if (a.N < 1 || !a.params || !a.state || !a.dst || (!a.src && !a.src_index))
      throw Error(CHARNN_ERR_ARGUMENT,
                  "step: N >= 1 and params, state, dst and src (or "
                  "src_index) are required");
    if (a.src_index)
      for (std::int64_t n = 0; n < a.N; ++n)
        if (a.src_index[n] < 0 || a.src_index[n] >= I_)
          throw Error(CHARNN_ERR_ARGUMENT, "step: src_index[" + std::to_string(n) +
                                               "] = " + std::to_string(a.src_index[n]) +
                                               " is outside [0, " + std::to_string(I_) + ")");
    backend_guard("step", [&] {
      StepPlan& pl = step_plan(a.N);
      if (prep_params_ && a.params == prep_params_)
        prepared_gates(pl, a.N, a.src, a.src_index, a.state);
      else
        step_gates(pl, a.N, a.params, a.src, a.src_index, a.state);
      pointwise(pl.gates.data(), a.state, a.dst, a.N, nullptr, 0);
    });
  }

  void prepare_step(const float* params, charnn_precision precision) override {
    // Whatever happens below, the old copy is gone: the host may be about to change it.
    prep_params_ = nullptr;
    for (auto& [n, pl] : step_plans_) pl->prep.clear();
    prep_weights_.clear();
    prep_b_ = {};
    prep_xb_ = {};
    if (!params) return;
    if (precision == CHARNN_PRECISION_BF16 && !has_native_bf16())
      throw Error(CHARNN_ERR_UNSUPPORTED,
                  "prepare_step: this CPU has no native bfloat16 support (AVX512_BF16)");
    if (precision == CHARNN_PRECISION_INT8 && !has_native_int8())
      throw Error(CHARNN_ERR_UNSUPPORTED,
                  "prepare_step: this CPU has no fast int8 support (AVX512 VNNI)");
    if (precision == CHARNN_PRECISION_INT8) {
      // A NaN or infinite weight has no int8 scale; refusing lets the host fall back to bf16,
      // which carries NaN through to the logits (where the sampler reports it).
      const std::int64_t n = (I_ + H_ + 1) * G_ * H_;
      for (std::int64_t k = 0; k < n; ++k)
        if (!std::isfinite(params[k]))
          throw Error(CHARNN_ERR_UNSUPPORTED, "prepare_step: a non-finite weight (index " +
                                                  std::to_string(k) +
                                                  ") cannot be quantised to int8");
    }
    prep_dt_ = precision == CHARNN_PRECISION_BF16   ? dt::bf16
               : precision == CHARNN_PRECISION_INT8 ? dt::s8
                                                    : dt::f32;
    // The matmuls and weight copies are made on the first step() of each stream count and input
    // kind (one-hot index or dense src), since their layout may depend on both.
    prep_params_ = params;
  }

  void set_train_precision(charnn_precision precision) override {
    const bool bf = precision == CHARNN_PRECISION_BF16;
    // Without native bf16 oneDNN 2.6 emulates it, slower than f32: refuse, as prepare_step does.
    if (bf && !has_native_bf16())
      throw Error(CHARNN_ERR_UNSUPPORTED,
                  "set_train_precision: this CPU has no native bfloat16 support (AVX512_BF16)");
    if (bf == train_bf16_) return;
    train_bf16_ = bf;
    // Training plans are built for one precision; inference plans do not depend on it.
    for (auto it = seq_plans_.begin(); it != seq_plans_.end();)
      it = std::get<2>(it->first) ? seq_plans_.erase(it) : std::next(it);
    trained_ = nullptr;
  }

  void trace(const charnn_trace_args& a) override {
    check_seq(a.T, a.N, a.params, a.src, a.dst, "trace");
    if (!a.signals) throw Error(CHARNN_ERR_ARGUMENT, "trace: signals is required");
    backend_guard("trace", [&] {
      StepPlan& pl = step_plan(a.N);
      const std::int64_t NH = a.N * H_;
      float* state = pl.trace_state.data();  // (S, N, H)
      if (a.state_in)
        std::memcpy(state, a.state_in, S_ * NH * sizeof(float));
      else
        std::fill(pl.trace_state.begin(), pl.trace_state.end(), 0.0f);
      for (std::int64_t t = 0; t < a.T; ++t) {
        step_gates(pl, a.N, a.params, a.src + t * a.N * I_, nullptr, state);
        // Signal k of step t starts at signals + (k*T + t)*N*H.
        pointwise(pl.gates.data(), state, a.dst + t * NH, a.N, a.signals + t * NH, a.T * NH);
      }
      if (a.state_out) std::memcpy(a.state_out, state, S_ * NH * sizeof(float));
    });
  }

 protected:
  // Fills the bias part (G, H) of the parameter buffer.
  virtual void bias_init(float* b) const = 0;
  // The forward primitive descriptor for the given propagation kind, and (training only) the
  // backward one built with it as hint.
  virtual dnnl::primitive_desc make_forward_pd(dnnl::prop_kind prop, const SeqDescs& d) = 0;
  virtual dnnl::primitive_desc make_backward_pd(const SeqDescs& d) = 0;
  // One step's pointwise part, for N streams: gates (N, G, H) pre-activations (may be
  // overwritten), state (S, N, H) updated in place, dst (N, H) receives h. When signals is not
  // NULL, signal k for this step goes to signals + k*signal_stride, each (N, H).
  virtual void pointwise(float* gates, float* state, float* dst, std::int64_t N, float* signals,
                         std::int64_t signal_stride) const = 0;

  const std::int64_t I_, H_, G_, S_;

  void check_seq(std::int64_t T, std::int64_t N, const float* params, const float* src,
                 const float* dst, const char* what) const {
    if (T < 1 || N < 1)
      throw Error(CHARNN_ERR_ARGUMENT, std::string(what) + ": T and N must be at least 1 (got T=" +
                                           std::to_string(T) + ", N=" + std::to_string(N) + ")");
    if (!params || !src || !dst)
      throw Error(CHARNN_ERR_ARGUMENT, std::string(what) + ": params, src and dst are required");
  }

 private:
  // Everything for one (T, N) and one propagation kind.
  struct SeqPlan {
    memory src_layer, src_iter, w_layer, w_iter, bias, dst_layer, dst_iter, workspace;
    memory diff_src_layer, diff_src_iter, diff_w_layer, diff_w_iter, diff_bias, diff_dst_layer,
        diff_dst_iter;
    Prepared fwd, bwd;
    // bfloat16 training plan: src_layer, src_iter, w_layer, w_iter, dst_layer and dst_iter above
    // are owned bf16 buffers, filled from / copied to the host's f32 buffers by these reorders.
    bool bf16 = false;
    memory src_f, h_in_f, dst_f, h_out_f;  // f32 views of the host's src, h_in, dst, h_out
    Prepared cvt_w_layer, cvt_w_iter, cvt_src, cvt_h_in, cvt_dst, cvt_h_out;
    std::vector<float> zeros;           // (S, N, H): state_in / diff_state_out when NULL
    std::vector<float> state_out;       // (S, N, H): dst_iter(_c), read back by backward
    std::vector<float> scratch_src;     // (T, N, I): diff_src when the host passes NULL
    std::vector<float> scratch_state;   // (S, N, H): diff_state_in when the host passes NULL
    std::vector<float> state_in;        // (S, N, H): training forward's initial state
    std::vector<float> diff_state_out;  // (S, N, H): copy of the host's diff_state_out
  };
  // The prepared path for N streams and one input kind:
  //   one-hot (src_index): gates = b + w_x[id] (gathered, f32) then += h . w_h   (K = H)
  //   dense (src):         gates = [x, h] . [w_x; w_h] + b                       (K = I + H)
  struct PrepPlan {
    Prepared mm;                // the matmul on the prepared weights
    memory src;                 // (N, K) in the prepared precision, owned: h or [x, h]
    std::shared_ptr<memory> w;  // (K, G*H) prepared weights, shared by plans of one layout
    memory bias, gates;         // (1, G*H) host's b (dense only); (N, G*H) = StepPlan::gates
    std::int64_t K = 0;
    // int8 only: the matmul writes w_scale[j] * (x_q . w_q)[j] into acc (N, G*H), and gates +=
    // x_scale[n] * acc (no bias in the primitive: oneDNN 2.6 would scale it too).
    std::vector<float> acc;      // (N, G*H)
    std::vector<float> x_scale;  // (N) this step's input scale per stream: max |x| / 127
  };
  // Everything for the one-step path with N streams.
  struct StepPlan {
    // After prepare_step, by (dense input?, OpenMP threads): oneDNN fixes a matmul's split over
    // threads when it is created, so a host that switches the thread count between steps (the
    // sampler's tuning) gets a matmul made for each count.
    std::map<std::pair<bool, int>, std::unique_ptr<PrepPlan>> prep;
    memory xh, w_xh, w_h, h, bias, gates_m;
    Prepared mm_xh;                  // gates = [x, h] . [w_x; w_h] + b
    Prepared mm_h;                   // gates = h . w_h + b (then w_x rows are gathered in)
    std::vector<float> xh_buf;       // (N, I + H)
    std::vector<float> gates;        // (N, G, H), the pre-activations of one step
    std::vector<float> trace_state;  // (S, N, H)
  };

  SeqPlan& seq_plan(std::int64_t T, std::int64_t N, bool training) {
    auto key = std::make_tuple(T, N, training);
    auto it = seq_plans_.find(key);
    if (it != seq_plans_.end()) return *it->second;
    auto pl = std::make_unique<SeqPlan>();
    const bool bf = training && train_bf16_;
    const dt op = bf ? dt::bf16 : dt::f32;  // the matrix products' operands
    SeqDescs d;
    d.src_layer = memory::desc({T, N, I_}, op, tag::tnc);
    d.src_iter = memory::desc({1, 1, N, H_}, op, tag::ldnc);
    d.w_layer = memory::desc({1, 1, I_, G_, H_}, op, tag::ldigo);
    d.w_iter = memory::desc({1, 1, H_, G_, H_}, op, tag::ldigo);
    d.w_layer_b = memory::desc({1, 1, I_, G_, H_}, op, tag::ldgoi);
    d.w_iter_b = memory::desc({1, 1, H_, G_, H_}, op, tag::ldgoi);
    d.bias = memory::desc({1, 1, G_, H_}, dt::f32, tag::ldgo);
    d.dst_layer = memory::desc({T, N, H_}, op, tag::tnc);
    d.dst_iter = d.src_iter;
    d.diff_src_layer = memory::desc({T, N, I_}, dt::f32, tag::tnc);
    d.diff_dst_layer = memory::desc({T, N, H_}, dt::f32, tag::tnc);
    d.diff_iter = memory::desc({1, 1, N, H_}, dt::f32, tag::ldnc);
    d.diff_w_layer = memory::desc({1, 1, I_, G_, H_}, dt::f32, tag::ldigo);
    d.diff_w_iter = memory::desc({1, 1, H_, G_, H_}, dt::f32, tag::ldigo);

    const auto prop =
        training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
    dnnl::primitive_desc fpd = make_forward_pd(prop, d);
    pl->bias = wrap(d.bias);
    auto convert = [](Prepared& r, const memory& from, const memory& to) {
      r.prim = dnnl::reorder(from, to);
      r.add(DNNL_ARG_FROM, from);
      r.add(DNNL_ARG_TO, to);
    };
    if (bf) {
      pl->bf16 = true;
      auto own = [](const memory::desc& md) { return memory(md, cpu_engine()); };
      pl->src_layer = own(d.src_layer);
      pl->src_iter = own(d.src_iter);
      pl->w_layer = own(d.w_layer);
      pl->w_iter = own(d.w_iter);
      pl->dst_layer = own(d.dst_layer);
      pl->dst_iter = own(d.dst_iter);
      pl->src_f = wrap(d.diff_src_layer);
      pl->h_in_f = wrap(d.diff_iter);
      pl->dst_f = wrap(d.diff_dst_layer);
      pl->h_out_f = wrap(d.diff_iter);
      convert(pl->cvt_w_layer, w_layer_f_, pl->w_layer);
      convert(pl->cvt_w_iter, w_iter_f_, pl->w_iter);
      convert(pl->cvt_src, pl->src_f, pl->src_layer);
      convert(pl->cvt_h_in, pl->h_in_f, pl->src_iter);
      convert(pl->cvt_dst, pl->dst_layer, pl->dst_f);
      convert(pl->cvt_h_out, pl->dst_iter, pl->h_out_f);
      if (!w_layer_bb_) {  // the backward weights, bf16 ldgoi; T and N do not matter
        w_layer_bb_ = own(d.w_layer_b);
        w_iter_bb_ = own(d.w_iter_b);
        convert(reorder_layer_bf_, w_layer_f_, w_layer_bb_);
        convert(reorder_iter_bf_, w_iter_f_, w_iter_bb_);
      }
    } else {
      pl->src_layer = wrap(d.src_layer);
      pl->src_iter = wrap(d.src_iter);
      pl->w_layer = wrap(d.w_layer);
      pl->w_iter = wrap(d.w_iter);
      pl->dst_layer = wrap(d.dst_layer);
      pl->dst_iter = wrap(d.dst_iter);
      if (training && !w_layer_b_) {  // the backward weights, f32 ldgoi; T and N do not matter
        w_layer_b_ = memory(d.w_layer_b, cpu_engine());  // (I, G, H) as ldgoi, owned
        w_iter_b_ = memory(d.w_iter_b, cpu_engine());    // (H, G, H) as ldgoi, owned
        convert(reorder_layer_, w_layer_f_, w_layer_b_);
        convert(reorder_iter_, w_iter_f_, w_iter_b_);
      }
    }
    pl->fwd.prim = dnnl::primitive(fpd);
    Prepared& f = pl->fwd;
    f.add(DNNL_ARG_SRC_LAYER, pl->src_layer);
    f.add(DNNL_ARG_SRC_ITER, pl->src_iter);
    f.add(DNNL_ARG_WEIGHTS_LAYER, pl->w_layer);
    f.add(DNNL_ARG_WEIGHTS_ITER, pl->w_iter);
    f.add(DNNL_ARG_BIAS, pl->bias);
    f.add(DNNL_ARG_DST_LAYER, pl->dst_layer);
    f.add(DNNL_ARG_DST_ITER, pl->dst_iter);
    if (training) {
      pl->workspace = memory(fpd.workspace_desc(), cpu_engine());
      f.add(DNNL_ARG_WORKSPACE, pl->workspace);
    }
    // The scratchpad is oneDNN's default (library-managed), so it needs no argument here.
    pl->zeros.assign(static_cast<size_t>(S_ * N * H_), 0.0f);
    pl->state_out.assign(static_cast<size_t>(S_ * N * H_), 0.0f);

    if (training) {
      dnnl::primitive_desc bpd = make_backward_pd(d);
      pl->diff_src_layer = wrap(d.diff_src_layer);
      pl->diff_src_iter = wrap(d.diff_iter);
      pl->diff_w_layer = wrap(d.diff_w_layer);
      pl->diff_w_iter = wrap(d.diff_w_iter);
      pl->diff_bias = wrap(d.bias);
      pl->diff_dst_layer = wrap(d.diff_dst_layer);
      pl->diff_dst_iter = wrap(d.diff_iter);
      pl->bwd.prim = dnnl::primitive(bpd);
      Prepared& b = pl->bwd;
      b.add(DNNL_ARG_SRC_LAYER, pl->src_layer);
      b.add(DNNL_ARG_SRC_ITER, pl->src_iter);
      b.add(DNNL_ARG_WEIGHTS_LAYER, bf ? w_layer_bb_ : w_layer_b_);
      b.add(DNNL_ARG_WEIGHTS_ITER, bf ? w_iter_bb_ : w_iter_b_);
      b.add(DNNL_ARG_BIAS, pl->bias);
      b.add(DNNL_ARG_DST_LAYER, pl->dst_layer);
      b.add(DNNL_ARG_DST_ITER, pl->dst_iter);
      b.add(DNNL_ARG_WORKSPACE, pl->workspace);
      b.add(DNNL_ARG_DIFF_SRC_LAYER, pl->diff_src_layer);
      b.add(DNNL_ARG_DIFF_SRC_ITER, pl->diff_src_iter);
      b.add(DNNL_ARG_DIFF_WEIGHTS_LAYER, pl->diff_w_layer);
      b.add(DNNL_ARG_DIFF_WEIGHTS_ITER, pl->diff_w_iter);
      b.add(DNNL_ARG_DIFF_BIAS, pl->diff_bias);
      b.add(DNNL_ARG_DIFF_DST_LAYER, pl->diff_dst_layer);
      b.add(DNNL_ARG_DIFF_DST_ITER, pl->diff_dst_iter);
      pl->scratch_src.assign(static_cast<size_t>(T * N * I_), 0.0f);
      pl->scratch_state.assign(static_cast<size_t>(S_ * N * H_), 0.0f);
      pl->state_in.assign(static_cast<size_t>(S_ * N * H_), 0.0f);
      pl->diff_state_out.assign(static_cast<size_t>(S_ * N * H_), 0.0f);
    }
    SeqPlan& ref = *pl;
    seq_plans_.emplace(key, std::move(pl));
    return ref;
  }

  void bind_forward(SeqPlan& pl, const float* params, const float* src, const float* state_in,
                    float* dst) {
    const std::int64_t wl = I_ * G_ * H_, wi = H_ * G_ * H_;
    const float* sin = state_in ? state_in : pl.zeros.data();
    if (pl.bf16) {  // the primitive reads and writes the plan's bf16 copies of these
      bind(w_layer_f_, params);
      bind(w_iter_f_, params + wl);
      bind(pl.src_f, src);
      bind(pl.h_in_f, sin);
      bind(pl.dst_f, dst);
      bind(pl.h_out_f, pl.state_out.data());
    } else {
      bind(pl.src_layer, src);
      bind(pl.src_iter, sin);
      bind(pl.w_layer, params);
      bind(pl.w_iter, params + wl);
      bind(pl.dst_layer, dst);
      bind(pl.dst_iter, pl.state_out.data());
    }
    bind(pl.bias, params + wl + wi);
  }

  StepPlan& step_plan(std::int64_t N) {
    auto it = step_plans_.find(N);
    if (it != step_plans_.end()) return *it->second;
    auto pl = std::make_unique<StepPlan>();
    const std::int64_t GH = G_ * H_;
    const memory::desc xh_md({N, I_ + H_}, dt::f32, tag::ab);
    const memory::desc wxh_md({I_ + H_, GH}, dt::f32, tag::ab);
    const memory::desc h_md({N, H_}, dt::f32, tag::ab);
    const memory::desc wh_md({H_, GH}, dt::f32, tag::ab);
    const memory::desc b_md({1, GH}, dt::f32, tag::ab);
    const memory::desc g_md({N, GH}, dt::f32, tag::ab);
    pl->gates.assign(static_cast<size_t>(N * GH), 0.0f);
    pl->trace_state.assign(static_cast<size_t>(S_ * N * H_), 0.0f);
    if (N > kSmallN) {  // small N uses small_gemm_acc instead of these primitives
      pl->xh_buf.assign(static_cast<size_t>(N * (I_ + H_)), 0.0f);
      pl->xh = wrap(xh_md);
      pl->w_xh = wrap(wxh_md);
      pl->h = wrap(h_md);
      pl->w_h = wrap(wh_md);
      pl->bias = wrap(b_md);
      pl->gates_m = wrap(g_md);
      bind(pl->xh, pl->xh_buf.data());
      bind(pl->gates_m, pl->gates.data());
      pl->mm_xh.prim = dnnl::matmul(dnnl::matmul::primitive_desc(
          dnnl::matmul::desc(xh_md, wxh_md, b_md, g_md), cpu_engine()));
      pl->mm_xh.add(DNNL_ARG_SRC, pl->xh);
      pl->mm_xh.add(DNNL_ARG_WEIGHTS, pl->w_xh);
      pl->mm_xh.add(DNNL_ARG_BIAS, pl->bias);
      pl->mm_xh.add(DNNL_ARG_DST, pl->gates_m);
      pl->mm_h.prim = dnnl::matmul(
          dnnl::matmul::primitive_desc(dnnl::matmul::desc(h_md, wh_md, b_md, g_md), cpu_engine()));
      pl->mm_h.add(DNNL_ARG_SRC, pl->h);
      pl->mm_h.add(DNNL_ARG_WEIGHTS, pl->w_h);
      pl->mm_h.add(DNNL_ARG_BIAS, pl->bias);
      pl->mm_h.add(DNNL_ARG_DST, pl->gates_m);
    }
    StepPlan& ref = *pl;
    step_plans_.emplace(N, std::move(pl));
    return ref;
  }

  // gates (N, G, H) = pre-activations of one step from x (or the one-hot indices) and state h.
  void step_gates(StepPlan& pl, std::int64_t N, const float* params, const float* src,
                  const std::int32_t* src_index, const float* state) {
    const std::int64_t GH = G_ * H_;
    const float* w_x = params;                 // (I, G*H)
    const float* w_h = params + I_ * GH;       // (H, G*H)
    const float* b = params + (I_ + H_) * GH;  // (G*H)
    if (N <= kSmallN) {
      for (std::int64_t n = 0; n < N; ++n) {
        float* g = pl.gates.data() + n * GH;
        if (src_index) {
          // One-hot input: x . w_x is row src_index[n] of w_x, so gather it instead of
          // multiplying.
          const float* row = w_x + static_cast<std::int64_t>(src_index[n]) * GH;
          for (std::int64_t k = 0; k < GH; ++k) g[k] = b[k] + row[k];
        } else {
          std::memcpy(g, b, GH * sizeof(float));
        }
      }
      if (!src_index) small_gemm_acc(src, w_x, pl.gates.data(), N, I_, GH);
      small_gemm_acc(state, w_h, pl.gates.data(), N, H_, GH);
      return;
    }
    bind(pl.bias, b);
    if (src_index) {
      bind(pl.h, state);
      bind(pl.w_h, w_h);
      pl.mm_h.run(stream_);
      stream_.wait();
      for (std::int64_t n = 0; n < N; ++n) {
        float* g = pl.gates.data() + n * GH;
        const float* row = w_x + static_cast<std::int64_t>(src_index[n]) * GH;
        for (std::int64_t k = 0; k < GH; ++k) g[k] += row[k];
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
  }

  PrepPlan& prep_plan(StepPlan& pl, std::int64_t N, bool dense) {
    std::unique_ptr<PrepPlan>& slot = pl.prep[{dense, omp_get_max_threads()}];
    if (slot) return *slot;
    auto pp = std::make_unique<PrepPlan>();
    const std::int64_t GH = G_ * H_;
    pp->K = dense ? I_ + H_ : H_;
    const memory::desc src_md({N, pp->K}, prep_dt_, tag::ab);
    const memory::desc w_any({pp->K, GH}, prep_dt_, tag::any);
    const memory::desc b_md({1, GH}, dt::f32, tag::ab);
    const memory::desc g_md({N, GH}, dt::f32, tag::ab);
    const bool int8 = prep_dt_ == dt::s8;
    const float* from = dense ? prep_params_ : prep_params_ + I_ * GH;  // (K, G*H) plain rows
    std::vector<float> w_scale;                                         // int8: (G*H)
    std::vector<std::int8_t> w_q;                                       // int8: (K, G*H)
    dnnl::primitive_attr attr;
    if (int8) {
      // Symmetric per-column quantisation: w_q = round(w / w_scale[j]), w_scale = max|w| / 127.
      w_scale.assign(static_cast<std::size_t>(GH), 0.0f);
      for (std::int64_t k = 0; k < pp->K; ++k)
        for (std::int64_t j = 0; j < GH; ++j)
          w_scale[j] = std::max(w_scale[j], std::abs(from[k * GH + j]));
      for (auto& sc : w_scale) sc = sc > 0.0f ? sc / 127.0f : 1.0f;
      w_q.resize(static_cast<std::size_t>(pp->K * GH));
      for (std::int64_t k = 0; k < pp->K; ++k)
        for (std::int64_t j = 0; j < GH; ++j)
          w_q[k * GH + j] = static_cast<std::int8_t>(std::lrint(from[k * GH + j] / w_scale[j]));
      attr.set_output_scales(1 << 1, w_scale);  // per column (dst dim 1)
      pp->acc.assign(static_cast<std::size_t>(N * GH), 0.0f);
      pp->x_scale.assign(static_cast<std::size_t>(N), 1.0f);
    } else if (!dense) {  // accumulate onto the gathered b + w_x[id] already in gates
      dnnl::post_ops po;
      po.append_sum(1.0f);
      attr.set_post_ops(po);
    }
    const auto pd = dense && !int8
                        ? dnnl::matmul::primitive_desc(
                              dnnl::matmul::desc(src_md, w_any, b_md, g_md), attr, cpu_engine())
                        : dnnl::matmul::primitive_desc(dnnl::matmul::desc(src_md, w_any, g_md),
                                                       attr, cpu_engine());
    pp->mm.prim = dnnl::matmul(pd);
    // One copy of the weights per layout: plans for other N reuse it when oneDNN picks the same.
    const memory::desc w_md = pd.weights_desc();
    for (const auto& [md, mem] : prep_weights_)
      if (md == w_md) pp->w = mem;  // equal descs: same dims (so same K), same layout
    if (!pp->w) {
      // Reorder (and round, for bf16) the host's plain rows once: w_h alone, or [w_x; w_h]; for
      // int8 the quantised rows (the reorder adds oneDNN's s8s8 compensation).
      memory plain_w =
          int8 ? memory({{pp->K, GH}, dt::s8, tag::ab}, cpu_engine(), w_q.data())
               : memory({{pp->K, GH}, dt::f32, tag::ab}, cpu_engine(), const_cast<float*>(from));
      pp->w = std::make_shared<memory>(w_md, cpu_engine());
      dnnl::reorder(plain_w, *pp->w).execute(stream_, plain_w, *pp->w);
      stream_.wait();
      prep_weights_.emplace_back(w_md, pp->w);
    }
    pp->src = memory(src_md, cpu_engine());
    pp->gates = wrap(g_md);
    bind(pp->gates, int8 ? pp->acc.data() : pl.gates.data());
    pp->mm.add(DNNL_ARG_SRC, pp->src);
    pp->mm.add(DNNL_ARG_WEIGHTS, *pp->w);
    if (prep_b_.empty()) {
      // f32 copies of what the prepared step reads besides the matrices (the contract allows
      // reading the host's buffer, but a copy keeps "prepared" meaning one thing for all of it).
      const float* w_x = prep_params_;                 // (I, G*H)
      const float* b = prep_params_ + (I_ + H_) * GH;  // (G*H)
      prep_b_.assign(b, b + GH);
      prep_xb_.resize(static_cast<std::size_t>(I_ * GH));
      for (std::int64_t i = 0; i < I_; ++i)
        for (std::int64_t k = 0; k < GH; ++k) prep_xb_[i * GH + k] = b[k] + w_x[i * GH + k];
    }
    if (dense && !int8) {
      pp->bias = wrap(b_md);
      bind(pp->bias, prep_b_.data());
      pp->mm.add(DNNL_ARG_BIAS, pp->bias);
    }
    pp->mm.add(DNNL_ARG_DST, pp->gates);
    slot = std::move(pp);
    return *slot;
  }
  // Copies n floats into the prepared src row (converting to bf16 when that is the precision).
  void put_src(const PrepPlan& pp, std::int64_t row, std::int64_t col, const float* from,
               std::int64_t n) const {
    void* base = pp.src.get_data_handle();
    const std::int64_t at = row * pp.K + col;
    if (prep_dt_ == dt::f32) {
      std::memcpy(static_cast<float*>(base) + at, from, static_cast<std::size_t>(n) * 4);
    } else if (prep_dt_ == dt::s8) {
      const float x_scale = pp.x_scale[static_cast<std::size_t>(row)];
      if (std::isnan(x_scale))  // non-finite input: the gates are set to NaN after the matmul
        std::memset(static_cast<std::int8_t*>(base) + at, 0, static_cast<std::size_t>(n));
      else
        quantize_s8(from, 1.0f / x_scale, static_cast<std::int8_t*>(base) + at, n);
    } else {
      convert_bf16(from, static_cast<std::uint16_t*>(base) + at, n);
    }
  }

  // gates (N, G, H) of one step on the prepared weights (see PrepPlan).
  void prepared_gates(StepPlan& pl, std::int64_t N, const float* src, const std::int32_t* src_index,
                      const float* state) {
    const std::int64_t GH = G_ * H_;
    PrepPlan& pp = prep_plan(pl, N, src_index == nullptr);
    if (prep_dt_ == dt::s8) {
      // Each stream's input scale for this step: max |x| over what the matmul reads.
      for (std::int64_t n = 0; n < N; ++n) {
        // NaN or infinity in the input makes the scale NaN: that stream's gates become NaN below
        // (as in f32), instead of quantising garbage that would hide a diverged model.
        const float a = max_abs(state + n * H_, H_);
        const float b = src_index ? 0.0f : max_abs(src + n * I_, I_);
        const float m = std::isfinite(a) && std::isfinite(b) ? std::max(a, b) : NAN;
        pp.x_scale[static_cast<std::size_t>(n)] = m > 0.0f ? m / 127.0f : m == 0.0f ? 1.0f : NAN;
      }
    }
    if (src_index) {
      // One-hot input: start from row id of (w_x + b), exactly what the plain path computes.
      for (std::int64_t n = 0; n < N; ++n) {
        const float* row = prep_xb_.data() + static_cast<std::int64_t>(src_index[n]) * GH;
        std::memcpy(pl.gates.data() + n * GH, row, static_cast<std::size_t>(GH) * sizeof(float));
        put_src(pp, n, 0, state + n * H_, H_);
      }
    } else {
      for (std::int64_t n = 0; n < N; ++n) {
        put_src(pp, n, 0, src + n * I_, I_);
        put_src(pp, n, I_, state + n * H_, H_);
      }
    }
    if (prep_dt_ == dt::s8 && !src_index)
      for (std::int64_t n = 0; n < N; ++n)
        std::memcpy(pl.gates.data() + n * GH, prep_b_.data(),
                    static_cast<std::size_t>(GH) * sizeof(float));
    pp.mm.run(stream_);
    stream_.wait();
    if (prep_dt_ == dt::s8)
      for (std::int64_t n = 0; n < N; ++n) {
        const float x_scale = pp.x_scale[static_cast<std::size_t>(n)];
        float* g = pl.gates.data() + n * GH;
        if (std::isnan(x_scale))
          std::fill(g, g + GH, NAN);
        else
          add_scaled(g, pp.acc.data() + n * GH, x_scale, GH);
      }
  }

  // Up to this many streams the one-step path uses small_gemm_acc (weights streamed once, one
  // thread); beyond it oneDNN's matmul, whose blocking pays off for real batches.
  static constexpr std::int64_t kSmallN = 8;

  dnnl::stream stream_;
  // Forward-layout views of the params (rebound per call) and the backward-layout copies.
  memory w_layer_f_, w_iter_f_, w_layer_b_, w_iter_b_;
  Prepared reorder_layer_, reorder_iter_;
  // bfloat16 training (set_train_precision): backward's bf16 ldgoi weights, made on first use.
  bool train_bf16_ = false;
  memory w_layer_bb_, w_iter_bb_;
  Prepared reorder_layer_bf_, reorder_iter_bf_;
  std::map<std::tuple<std::int64_t, std::int64_t, bool>, std::unique_ptr<SeqPlan>> seq_plans_;
  std::map<std::int64_t, std::unique_ptr<StepPlan>> step_plans_;
  // prepare_step: the host's params the copies were made from (NULL: nothing prepared), their
  // precision, and the prepared weight copies by layout (one per oneDNN weights format and K).
  const float* prep_params_ = nullptr;
  dt prep_dt_ = dt::f32;
  std::vector<std::pair<memory::desc, std::shared_ptr<memory>>> prep_weights_;
  std::vector<float> prep_b_;   // (G*H) b
  std::vector<float> prep_xb_;  // (I, G*H) w_x + b row by row: the one-hot input's gates before h
  SeqPlan* trained_ = nullptr;  // the plan of the last training forward
  std::int64_t trained_T_ = 0, trained_N_ = 0;
};

}  // namespace charnn_cells
