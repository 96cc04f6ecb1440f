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
#include <vector>

#include "fast_math.hpp"
#include "gru_unit.hpp"
#include "matmul_sequence.hpp"
#include "thread_rows.hpp"
#include "vector_loops.hpp"

namespace charnn_cells {

// One (T, N)'s products (SequenceProducts) and the GRU's own buffers.
struct GruPlan : SequenceProducts {
  std::vector<float> rec;             // (N, 3H): h_{t-1} . W_h + b_h of one step
  std::vector<float> gx;              // (T, N, 3H): Ax, then the gates r, z, n
  std::vector<float> rn;              // (T, N, H): the n part of Ah, which r scales
  std::vector<float> hf;              // (T+1, N, H): h_{-1} .. h_{T-1} in f32
  std::vector<std::byte> hb;          // bf16 plans: hf in bf16
  std::vector<std::byte> daxs, dahs;  // operand type: dAx, dAh (T, N, 3H)
  std::vector<float> dh;              // (N, H)
  std::vector<float> dbx, dbhn;       // per thread: (3H) of db_x, (H) of db_h's n gate
};

class GruSequence : public MatmulSequence<GruSequence, GruPlan> {
 public:
  // forward's signals: (4, T, N, H) that also receives h, r, z, n of every step. The recurrent
  // product adds b_h, and dh += dAh . W_h^T, since dh already holds dh_t * z.
  GruSequence(std::int64_t input_size, std::int64_t hidden_size, bool trains)
      : MatmulSequence(input_size, hidden_size, trains,
                       {.gates = 3, .states = 1, .h_bias = true, .ht_accumulates = true}) {}

  void backward(const charnn_backward_args& a) {
    GruPlan& p = trained_plan(a);
    const std::int64_t T = a.T, N = a.N, H = H_, G = G_, NH = N * H;
    p.load_transposed(stream_, a.params, I_, G, a.diff_src != nullptr);
    float* dh = p.dh.data();  // (N, H): dL/dh_t from the steps after t
    if (a.diff_state_out)
      std::memcpy(dh, a.diff_state_out, NH * sizeof(float));
    else
      std::fill(p.dh.begin(), p.dh.end(), 0.0f);
    const float* gates = p.gx.data();
    // Whole rows per thread, each summing its bias gradients in a slice of dbx and dbhn.
    const int threads = omp_get_max_threads();
    p.dbx.assign(threads * G, 0.0f);
    p.dbhn.assign(threads * H, 0.0f);
    for (std::int64_t t = T - 1; t >= 0; --t) {
      // The gradients of the pre-activations go straight into dAx and dAh in the products'
      // type (bf16 rounded as they are written: no f32 buffer and conversion pass per step).
#pragma omp parallel for schedule(static)
      for (int k = 0; k < threads; ++k) {
        const RowRange rows = rows_of_thread(N, k, threads);
        for (std::int64_t n = rows.begin; n < rows.end; ++n) {
          const RowBack r{gates + (t * N + n) * G,
                          p.rn.data() + t * NH + n * H,
                          p.hf.data() + t * NH + n * H,
                          a.diff_dst + t * NH + n * H,
                          dh + n * H,
                          p.dbx.data() + k * G,
                          p.dbhn.data() + k * H,
                          H};
          const std::int64_t at = (t * N + n) * G;
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
    p.weight_gradients(stream_,
                       {h_op(p, 0), x_op(p, a.src), a.src_index, p.dahs.data(), p.daxs.data(),
                        a.diff_params, a.diff_src},
                       I_, G, T * N, bf16_);
    // db_h equals db_x in the r and z gates (dAh = dAx there).
    float* dbx = a.diff_params + bias_offset();
    float* dbh = dbx + G;
    add_thread_sums(p.dbx, threads, G, G, dbx);
    add_thread_sums(p.dbx, threads, G, 2 * H, dbh);
    add_thread_sums(p.dbhn, threads, H, H, dbh + 2 * H);
  }

 private:
  friend class MatmulSequence<GruSequence, GruPlan>;
  using Plan = GruPlan;

  // The steps of a, on a plan for a.T, a.N whose weights are loaded. The initial state and
  // every h are kept in f32 for backward (a host that carries state in place has overwritten
  // it by then), and X in bf16.
  void run(Plan& p, const charnn_forward_args& a) {
    const std::int64_t N = a.N, H = H_, G = G_, NH = N * H;
    const float* bx = a.params + bias_offset();
    const float* bh = bx + G;
    keep_x(p, a);
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
    const std::int64_t H = H_, G = G_;
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

  // h_{t-1} as the products read it: the f32 copy itself, or its bf16 twin.
  void* h_op(Plan& p, std::int64_t t) const {
    if (bf16_) return p.hb.data() + t * p.N * H_ * 2;
    return p.hf.data() + t * p.N * H_;
  }
  void* dah_op(Plan& p, std::int64_t t) const {
    return p.dahs.data() + t * p.N * G_ * esize();
  }

  void size_buffers(Plan& p) const {
    const std::int64_t H = H_, G = G_, T = p.T, N = p.N, M = T * N;
    p.gx.resize(M * G);
    p.rec.resize(N * G);
    p.rn.resize(M * H);
    p.hf.resize((T + 1) * N * H);
    if (bf16_) p.hb.resize((T + 1) * N * H * 2);
    if (trains_) {
      p.daxs.resize(M * G * esize());
      p.dahs.resize(M * G * esize());
      p.dh.resize(N * H);
    }
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

  // One stream's step back: gates (3, H) and rn (H) as forward left them, h_prev (H), dh_out
  // the loss gradient of this step's h from above, dh (in: from later steps; out: dh * z, the
  // direct part of dh_{t-1}), dbx (3, H) and dbhn (H) accumulated; the rows dAx and dAh (3, H)
  // are the caller's, in the products' type.
  struct RowBack {
    const float *gates, *rn, *h_prev, *dh_out;
    float *dh, *dbx, *dbhn;
    std::int64_t H;
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
    const std::int64_t H = r.H;
    const float* g = r.gates;
    backward_units(g, g + H, g + 2 * H, r.rn, r.h_prev, r.dh_out, r.dh, dax, dax + H, dax + 2 * H,
                   dah, dah + H, dah + 2 * H, r.dbx, r.dbx + H, r.dbx + 2 * H, r.dbhn, H);
  }
  static float stored(float v, float) { return v; }
  static std::uint16_t stored(float v, std::uint16_t) { return to_bf16(v); }
  template <class Out>
  [[gnu::always_inline]] static inline void backward_units(
      const float* __restrict gr, const float* __restrict gz, const float* __restrict gn,
      const float* __restrict rn, const float* __restrict h_prev, const float* __restrict dh_out,
      float* __restrict dh, Out* __restrict dxr, Out* __restrict dxz, Out* __restrict dxn,
      Out* __restrict dhr, Out* __restrict dhz, Out* __restrict dhn, float* __restrict bxr,
      float* __restrict bxz, float* __restrict bxn, float* __restrict bhn, std::int64_t n) {
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
      bhn[j] += vhn;
      dh[j] = dht * z;
    }
  }
};

}  // namespace charnn_cells
