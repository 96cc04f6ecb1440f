// The GRU's sequence passes (forward, for training or not, and backward) on oneDNN matmul
// primitives, in float32 or with bfloat16 products, laid out as the LSTM's
// (lstm/lstm_sequence.hpp) with the GRU's two biases and its reset gate:
//
//   forward:  Ax = X . W_x + b_x                   one product over all T*N rows (for a one-hot
//                                                  X given by index: a gather of W_x's rows)
//             for t: Ah_t = h_{t-1} . W_h + b_h      (N rows), then the gates and the new h
//   backward: for t = T-1 .. 0: the pointwise gradient gives dAx_t and dAh_t (they differ in
//             the n gate only: dAh_n = dAx_n * r), and dh_{t-1} = dh_t * z + dAh_t . W_h^T
//             dW_h += H_prev^T . dAh, dW_x += X^T . dAx, db_h += sum dAh, db_x += sum dAx,
//             dX = dAx . W_x^T (by index: dW_x[id] += dAx, a scatter-add, and no dX)
//
// Parameters (the flat buffer): w_x (I, 3, H), w_h (H, 3, H), b_x (3, H), b_h (3, H), gates in
// PyTorch's order r, z, n: PyTorch's weight_ih_l0 is w_x transposed, weight_hh_l0 w_h
// transposed, bias_ih_l0 b_x and bias_hh_l0 b_h. In bf16 the products' inputs are rounded to
// bfloat16 and accumulated in float32; gates, h for the update, dh and every gradient stay
// float32.
#pragma once

#include <charnn/plugin.h>
#include <omp.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "fast_math.hpp"
#include "gru_unit.hpp"
#include "matmul_parts.hpp"
#include "onednn_support.hpp"
#include "vector_loops.hpp"

namespace charnn_cells {

class GruSequence {
 public:
  // A sequence that never trains (validation, eval, sampling) keeps no backward buffers.
  GruSequence(std::int64_t input_size, std::int64_t hidden_size, bool trains)
      : I_(input_size), H_(hidden_size), trains_(trains), stream_(cpu_engine()) {}

  void set_bf16(bool bf16) {
    if (bf16 == bf16_) return;
    bf16_ = bf16;
    plans_.clear();
    weights_.clear();
    last_ = nullptr;
  }

  // signals: NULL, or (4, T, N, H) that also receives h, r, z, n of every step (trace;
  // inference sequences only).
  void forward(const charnn_forward_args& a, float* signals = nullptr) {
    if (trains_) {
      Plan& p = plan(a.T, a.N);
      load_weights(p, a.params);
      run(p, a);
      last_ = &p;
      return;
    }
    // Inference runs in chunks of about kInferenceRows rows (see LstmSequence::forward).
    const std::int64_t Tc = std::clamp<std::int64_t>(kInferenceRows / a.N, 1, a.T);
    Plan& p = plan(Tc, a.N);
    load_weights(p, a.params);
    Plan* rest = nullptr;
    if (a.T % Tc) {
      rest = &plan(a.T % Tc, a.N);
      load_weights(*rest, a.params);
    }
    carry_.resize(static_cast<std::size_t>(a.N * H_));
    for (std::int64_t t0 = 0; t0 < a.T; t0 += Tc) {
      charnn_forward_args c = a;
      c.T = std::min(Tc, a.T - t0);
      c.src = a.src ? a.src + t0 * a.N * I_ : nullptr;
      c.src_index = a.src_index ? a.src_index + t0 * a.N : nullptr;
      c.dst = a.dst + t0 * a.N * H_;
      c.state_in = t0 == 0 ? a.state_in : carry_.data();
      c.state_out = t0 + c.T == a.T ? a.state_out : carry_.data();
      Plan& used = c.T == Tc ? p : *rest;
      run(used, c);
      if (signals) keep_signals(used, c.dst, c.T, a.N, signals + t0 * a.N * H_, a.T * a.N * H_);
    }
  }

  void backward(const charnn_backward_args& a) {
    if (!trains_) throw Error(CHARNN_ERR_INTERNAL, "backward on an inference-only sequence");
    if (!last_ || last_->T != a.T || last_->N != a.N)
      throw Error(CHARNN_ERR_STATE, "backward: no training forward with T=" + std::to_string(a.T) +
                                        ", N=" + std::to_string(a.N) + " precedes it on this cell");
    Plan& p = *last_;
    const std::int64_t T = a.T, N = a.N, H = H_, G = 3 * H_, NH = N * H;
    const std::int64_t wl = I_ * G, wi = H * G;
    p.r_wht.run(stream_, a.params + wl, p.wht.get_data_handle());
    if (a.diff_src) p.r_wxt.run(stream_, a.params, p.wxt.get_data_handle());
    float* dh = p.dh.data();  // (N, H): dL/dh_t from the steps after t
    if (a.diff_state_out)
      std::memcpy(dh, a.diff_state_out, NH * sizeof(float));
    else
      std::fill(p.dh.begin(), p.dh.end(), 0.0f);
    std::fill(p.dbx.begin(), p.dbx.end(), 0.0f);
    std::fill(p.dbh.begin(), p.dbh.end(), 0.0f);
    const float* gates = p.gx.data();
    const int threads = omp_get_max_threads();
    const std::int64_t chunk = (H + threads - 1) / threads;
    for (std::int64_t t = T - 1; t >= 0; --t) {
      // The gradients of the pre-activations go straight into dAx and dAh in the products'
      // type (bf16 rounded as they are written: no f32 buffer and conversion pass per step);
      // the bias gradients sum them in f32. Split by units, not streams, so that each thread
      // owns its slice of the bias gradients.
#pragma omp parallel for schedule(static)
      for (int k = 0; k < threads; ++k) {
        const std::int64_t j0 = k * chunk, j1 = std::min(H, j0 + chunk);
        for (std::int64_t n = 0; n < N && j0 < j1; ++n) {
          const RowBack r{gates + (t * N + n) * G, p.rn.data() + t * NH + n * H,
                          p.hf.data() + t * NH + n * H, a.diff_dst + t * NH + n * H, dh + n * H,
                          p.dbx.data(), p.dbh.data(), H, j0, j1};
          const std::int64_t at = (t * N + n) * G + j0;
          if (bf16_)
            backward_units_bf16(r, reinterpret_cast<std::uint16_t*>(p.daxs.data()) + at,
                                reinterpret_cast<std::uint16_t*>(p.dahs.data()) + at);
          else
            backward_units_f32(r, reinterpret_cast<float*>(p.daxs.data()) + at,
                               reinterpret_cast<float*>(p.dahs.data()) + at);
        }
      }
      // dh_{t-1} = dh_t * z (left in dh by backward_row) + dAh_t . W_h^T; for t = 0 only the
      // host may want it (diff_state_in).
      if (t > 0 || a.diff_state_in) {
        p.mm_ht.run(stream_, dah_op(p, t), p.wht.get_data_handle(), dh);
        stream_.wait();
      }
    }
    if (a.diff_state_in) std::memcpy(a.diff_state_in, dh, NH * sizeof(float));
    // Weight gradients over all T*N rows at once, added to the host's (the ABI accumulates).
    p.mm_dwh.run(stream_, h_op(p, 0), p.dahs.data(), a.diff_params + wl);
    if (a.src_index)
      scatter_add_rows(a.src_index, T * N, p.daxs.data(), bf16_, G, a.diff_params);
    else
      p.mm_dwx.run(stream_, x_op(p, a.src), p.daxs.data(), a.diff_params);
    if (a.diff_src) p.mm_xt.run(stream_, p.daxs.data(), p.wxt.get_data_handle(), a.diff_src);
    stream_.wait();
    float* dbx = a.diff_params + wl + wi;
    float* dbh = dbx + G;
    for (std::int64_t k = 0; k < G; ++k) {
      dbx[k] += p.dbx[k];
      dbh[k] += p.dbh[k];
    }
  }

 private:
  struct Plan {
    std::int64_t T = 0, N = 0;
    Gemm mm_x, mm_h, mm_ht, mm_xt, mm_dwh, mm_dwx;
    Convert r_wx, r_wh, r_wht, r_wxt;
    memory wx, wh, wht, wxt;            // owned: the weights in the products' layouts
    std::vector<float> rec;             // (N, 3H): h_{t-1} . W_h + b_h of one step
    std::vector<float> gx;              // (T, N, 3H): Ax, then the gates r, z, n
    std::vector<float> rn;              // (T, N, H): the n part of Ah, which r scales
    std::vector<float> hf;              // (T+1, N, H): h_{-1} .. h_{T-1} in f32
    std::vector<std::byte> xs, hb;      // bf16 plans: X (T, N, I) and hf in bf16
    std::vector<std::byte> daxs, dahs;  // operand type: dAx, dAh (T, N, 3H)
    std::vector<float> dh, dbx, dbh;    // (N, H), (3H), (3H)
  };

  static constexpr std::int64_t kInferenceRows = 512;

  void load_weights(Plan& p, const float* params) {
    p.r_wx.run(stream_, params, p.wx.get_data_handle());
    p.r_wh.run(stream_, params + I_ * 3 * H_, p.wh.get_data_handle());
  }

  // The steps of a, on a plan for a.T, a.N whose weights are loaded. The initial state and
  // every h are kept in f32 for backward (a host that carries state in place has overwritten
  // it by then), and X in bf16.
  void run(Plan& p, const charnn_forward_args& a) {
    const std::int64_t N = a.N, H = H_, G = 3 * H_, NH = N * H;
    const std::int64_t wl = I_ * G, wi = H * G;
    const float* bx = a.params + wl + wi;
    const float* bh = bx + G;
    if (bf16_ && !a.src_index)
      convert_bf16(a.src, reinterpret_cast<std::uint16_t*>(p.xs.data()), a.T * N * I_);
    float* hf = p.hf.data();  // (T+1, N, H)
    if (a.state_in)
      std::memcpy(hf, a.state_in, NH * sizeof(float));
    else
      std::memset(hf, 0, NH * sizeof(float));
    if (bf16_) convert_bf16(hf, reinterpret_cast<std::uint16_t*>(h_op(p, 0)), NH);
    float* gx = p.gx.data();  // (T, N, 3H)
    if (a.src_index)
      gather_rows(a.src_index, a.T * N, a.params, bx, G, gx);
    else
      p.mm_x.run(stream_, x_op(p, a.src), p.wx.get_data_handle(), gx, bx);
    for (std::int64_t t = 0; t < a.T; ++t) {
      float* at = gx + t * N * G;
      p.mm_h.run(stream_, h_op(p, t), p.wh.get_data_handle(), p.rec.data(), bh);
      stream_.wait();
      const float* h_prev = hf + t * NH;
      float* h = hf + (t + 1) * NH;
      float* rn = p.rn.data() + t * NH;
#pragma omp parallel for schedule(static)
      for (std::int64_t n = 0; n < N; ++n)
        forward_row(at + n * G, p.rec.data() + n * G, h_prev + n * H, h + n * H, rn + n * H, H);
      std::memcpy(a.dst + t * NH, h, NH * sizeof(float));
      if (bf16_) convert_bf16(h, reinterpret_cast<std::uint16_t*>(h_op(p, t + 1)), NH);
    }
    stream_.wait();
    if (a.state_out) std::memcpy(a.state_out, hf + a.T * NH, NH * sizeof(float));
  }

  // The signals of T steps that run() left in p and h (T, N, H), in trace order h, r, z, n:
  // signal k of step t and stream n goes to signals + k * stride + (t * N + n) * H.
  void keep_signals(const Plan& p, const float* h, std::int64_t T, std::int64_t N, float* signals,
                    std::int64_t stride) const {
    const std::int64_t H = H_, G = 3 * H_;
    const std::size_t bytes = static_cast<std::size_t>(H) * sizeof(float);
#pragma omp parallel for schedule(static)
    for (std::int64_t r = 0; r < T * N; ++r) {
      float* s = signals + r * H;
      const float* g = p.gx.data() + r * G;  // r, z, n
      std::memcpy(s, h + r * H, bytes);
      std::memcpy(s + stride, g, bytes);
      std::memcpy(s + 2 * stride, g + H, bytes);
      std::memcpy(s + 3 * stride, g + 2 * H, bytes);
    }
  }

  std::size_t esize() const {
    return bf16_ ? 2 : 4;
  }
  dt op() const {
    return bf16_ ? dt::bf16 : dt::f32;
  }
  // h_{t-1} as the products read it: the f32 copy itself, or its bf16 twin.
  void* h_op(Plan& p, std::int64_t t) const {
    if (bf16_) return p.hb.data() + t * p.N * H_ * 2;
    return p.hf.data() + t * p.N * H_;
  }
  const void* x_op(Plan& p, const float* src) const {
    return bf16_ ? static_cast<const void*>(p.xs.data()) : src;
  }
  void* dax_op(Plan& p, std::int64_t t) const {
    return p.daxs.data() + t * p.N * 3 * H_ * esize();
  }
  void* dah_op(Plan& p, std::int64_t t) const {
    return p.dahs.data() + t * p.N * 3 * H_ * esize();
  }

  Plan& plan(std::int64_t T, std::int64_t N) {
    auto& slot = plans_[{T, N}];
    if (slot) return *slot;
    auto p = std::make_unique<Plan>();
    p->T = T;
    p->N = N;
    const std::int64_t I = I_, H = H_, G = 3 * H_, M = T * N;
    const dt o = op();
    using dims = memory::dims;
    auto plain = [](dims d, dt type) { return memory::desc(d, type, tag::ab); };
    auto any = [](dims d, dt type) { return memory::desc(d, type, tag::any); };
    const memory::desc bias({1, G}, dt::f32, tag::ab);
    p->mm_x.init(plain({M, I}, o), any({I, G}, o), plain({M, G}, dt::f32), false, &bias);
    p->mm_h.init(plain({N, H}, o), any({H, G}, o), plain({N, G}, dt::f32), false, &bias);
    auto own = [](const memory::desc& md) { return memory(md, cpu_engine()); };
    p->wx = weights_.get(0, p->mm_x.weights_desc);
    p->wh = weights_.get(1, p->mm_h.weights_desc);
    p->r_wx.init(plain({I, G}, dt::f32), p->mm_x.weights_desc);
    p->r_wh.init(plain({H, G}, dt::f32), p->mm_h.weights_desc);
    p->gx.resize(M * G);
    p->rec.resize(N * G);
    p->rn.resize(M * H);
    p->hf.resize((T + 1) * N * H);
    if (bf16_) {
      p->xs.resize(M * I * 2);
      p->hb.resize((T + 1) * N * H * 2);
    }
    if (trains_) {
      // dh += dAh . W_h^T: dh already holds dh_t * z.
      p->mm_ht.init(plain({N, G}, o), any({G, H}, o), plain({N, H}, dt::f32), true);
      p->mm_xt.init(plain({M, G}, o), any({G, I}, o), plain({M, I}, dt::f32), false);
      // H_prev^T and X^T are strided views of the row-major (T*N, H) and (T*N, I) buffers.
      p->mm_dwh.init(memory::desc({H, M}, o, dims{1, H}), plain({M, G}, o), plain({H, G}, dt::f32),
                     true);
      p->mm_dwx.init(memory::desc({I, M}, o, dims{1, I}), plain({M, G}, o), plain({I, G}, dt::f32),
                     true);
      p->wht = own(p->mm_ht.weights_desc);
      p->wxt = own(p->mm_xt.weights_desc);
      // W^T (G, H) is the host's row-major (H, G) read with swapped strides.
      p->r_wht.init(memory::desc({G, H}, dt::f32, dims{1, G}), p->mm_ht.weights_desc);
      p->r_wxt.init(memory::desc({G, I}, dt::f32, dims{1, G}), p->mm_xt.weights_desc);
      p->daxs.resize(M * G * esize());
      p->dahs.resize(M * G * esize());
      p->dh.resize(N * H);
      p->dbx.resize(G);
      p->dbh.resize(G);
    }
    slot = std::move(p);
    return *slot;
  }

  // One stream's step: a (3, H) the input part (with b_x), ah the recurrent part (with b_h);
  // the gates r, z, n go to a, the n part of ah to rn, the new state to h.
  static void forward_row(float* a, const float* ah, const float* h_prev, float* h, float* rn,
                          std::int64_t H) {
    forward_units(a, a + H, a + 2 * H, ah, ah + H, ah + 2 * H, h_prev, h, rn, H);
  }
  CHARNN_CELL_CLONES static void forward_units(float* __restrict ar, float* __restrict az,
                                               float* __restrict an, const float* __restrict hr,
                                               const float* __restrict hz,
                                               const float* __restrict hn,
                                               const float* __restrict h_prev, float* __restrict h,
                                               float* __restrict rn, std::int64_t H) {
    for (std::int64_t j = 0; j < H; ++j) {
      const GruUnit u = gru_unit(ar[j], az[j], an[j], hr[j], hz[j], hn[j], h_prev[j]);
      ar[j] = u.r;
      az[j] = u.z;
      an[j] = u.n;
      rn[j] = hn[j];
      h[j] = u.h;
    }
  }

  // One stream's step back, units [j0, j1): gates (3, H) and rn (H) as forward left them,
  // h_prev (H), dh_out the loss gradient of this step's h from above, dh (in: from later steps;
  // out: dh * z, the direct part of dh_{t-1}), dbx and dbh (3, H) accumulated; the rows dAx and
  // dAh (3, H) are the caller's, in the products' type, offset by j0.
  struct RowBack {
    const float *gates, *rn, *h_prev, *dh_out;
    float *dh, *dbx, *dbh;
    std::int64_t H, j0, j1;
  };
  CHARNN_CELL_CLONES static void backward_units_f32(const RowBack& r, float* dax, float* dah) {
    backward_row(r, dax, dah);
  }
  CHARNN_CELL_CLONES static void backward_units_bf16(const RowBack& r, std::uint16_t* dax,
                                                     std::uint16_t* dah) {
    backward_row(r, dax, dah);
  }
  // Inlined into each clone above, so that it is vectorised for that clone's ISA.
  template <class Out>
  [[gnu::always_inline]] static inline void backward_row(const RowBack& r, Out* dax, Out* dah) {
    const std::int64_t H = r.H, j0 = r.j0;
    const float* g = r.gates + j0;
    float* bx = r.dbx + j0;
    float* bh = r.dbh + j0;
    backward_units(g, g + H, g + 2 * H, r.rn + j0, r.h_prev + j0, r.dh_out + j0, r.dh + j0, dax,
                   dax + H, dax + 2 * H, dah, dah + H, dah + 2 * H, bx, bx + H, bx + 2 * H, bh,
                   bh + H, bh + 2 * H, r.j1 - j0);
  }
  static float stored(float v, float) { return v; }
  static std::uint16_t stored(float v, std::uint16_t) { return to_bf16(v); }
  template <class Out>
  [[gnu::always_inline]] static inline void backward_units(
      const float* __restrict gr, const float* __restrict gz, const float* __restrict gn,
      const float* __restrict rn, const float* __restrict h_prev, const float* __restrict dh_out,
      float* __restrict dh, Out* __restrict dxr, Out* __restrict dxz, Out* __restrict dxn,
      Out* __restrict dhr, Out* __restrict dhz, Out* __restrict dhn, float* __restrict bxr,
      float* __restrict bxz, float* __restrict bxn, float* __restrict bhr, float* __restrict bhz,
      float* __restrict bhn, std::int64_t n) {
    for (std::int64_t j = 0; j < n; ++j) {
      const float r = gr[j], z = gz[j], nn = gn[j];
      const float dht = dh_out[j] + dh[j];
      const float vn = dht * (1.0f - z) * (1.0f - nn * nn);  // d pre-activation of n
      const float vr = vn * rn[j] * r * (1.0f - r);
      const float vz = dht * (h_prev[j] - nn) * z * (1.0f - z);
      const float vhn = vn * r;
      dxr[j] = stored(vr, Out{});
      dxz[j] = stored(vz, Out{});
      dxn[j] = stored(vn, Out{});
      dhr[j] = stored(vr, Out{});
      dhz[j] = stored(vz, Out{});
      dhn[j] = stored(vhn, Out{});
      bxr[j] += vr;
      bxz[j] += vz;
      bxn[j] += vn;
      bhr[j] += vr;
      bhz[j] += vz;
      bhn[j] += vhn;
      dh[j] = dht * z;
    }
  }

  const std::int64_t I_, H_;
  const bool trains_;
  bool bf16_ = false;
  dnnl::stream stream_;
  std::map<std::pair<std::int64_t, std::int64_t>, std::unique_ptr<Plan>> plans_;
  Plan* last_ = nullptr;      // the plan of the last training forward, which backward consumes
  std::vector<float> carry_;  // (N, H): the state between an inference forward's chunks
  WeightBuffers weights_;  // of every plan, by layout
};

}  // namespace charnn_cells
