// The LSTM's sequence passes (forward, for training or not, and backward) on oneDNN matmul
// primitives, in float32 or with bfloat16 products.
//
// Why not oneDNN's lstm primitive: in oneDNN 2.6.3 its passes run through the generic ("ref")
// RNN driver, and the same products as matmul primitives are faster: forward + backward of the
// default 2x512 model on a 32 x 64 batch in bf16 took 137-141 ms with the primitive and 113-130
// ms this way, and float32 inference (validation, `charnn eval`) runs 10% faster (bench_cells
// --train-precision bf16; bench/RESULTS.md, "training"). The layout of the work:
//
//   forward:  Gx = X . W_x + b                  one product over all T*N rows (for a one-hot
//                                               X given by index: a gather of W_x's rows)
//             for t: A_t = Gx_t + h_{t-1} . W_h  (N rows), then the gates and state update
//   backward: for t = T-1 .. 0: the pointwise gradient gives dA_t, and dh_{t-1} = dA_t . W_h^T
//             dW_h += H_prev^T . dA, dW_x += X^T . dA, db += sum dA, dX = dA . W_x^T
//             (by index: dW_x[id] += dA, a scatter-add, and no dX)
//
// In bf16 the products' inputs (X, h, dA and the weights) are rounded to bfloat16 and
// accumulated in float32; gates, the cell state, dh, dc and every gradient stay float32 (as
// oneDNN's bf16 lstm primitive does).
#pragma once

#include <charnn/plugin.h>
#include <omp.h>
#include <charnn/onednn_compat.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "lstm_unit.hpp"
#include "matmul_sequence.hpp"
#include "thread_rows.hpp"
#include "vector_loops.hpp"

namespace charnn_cells {

// One (T, N)'s products (SequenceProducts) and the LSTM's own buffers.
struct LstmPlan : SequenceProducts {
  std::vector<float> rec;              // (N, 4H): h_{t-1} . W_h of one step
  std::vector<float> gx;               // (T, N, 4H): pre-activations, then the gates i, f, g, o
  std::vector<float> cs;               // (T+1, N, H): c_{-1} .. c_{T-1}
  std::vector<std::byte> hs, das;      // operand type: h_{-1}.. (T+1, N, H), dA (T, N, 4H)
  std::vector<float> da_f;             // (N, 4H): one step's dA in f32 (bf16 plans)
  std::vector<float> dh, dc;           // (N, H), (N, H)
  std::vector<float> db;               // per thread: (4H)
};

class LstmSequence : public MatmulSequence<LstmSequence, LstmPlan> {
 public:
  // forward's signals: (6, T, N, H) that also receives h, c, i, f, o, g of every step.
  LstmSequence(std::int64_t input_size, std::int64_t hidden_size, bool trains)
      : MatmulSequence(input_size, hidden_size, trains, {.gates = 4, .states = 2}) {}

  void backward(const charnn_backward_args& a) {
    LstmPlan& p = trained_plan(a);
    const std::int64_t T = a.T, N = a.N, H = H_, G = G_, NH = N * H;
    p.load_transposed(stream_, a.params, I_, G, a.diff_src != nullptr);
    float* dh = p.dh.data();  // (N, H): dL/dh_t from the steps after t
    float* dc = p.dc.data();  // (N, H): dL/dc_t from the steps after t
    if (a.diff_state_out) {
      std::memcpy(dh, a.diff_state_out, NH * sizeof(float));
      std::memcpy(dc, a.diff_state_out + NH, NH * sizeof(float));
    } else {
      std::fill(p.dh.begin(), p.dh.end(), 0.0f);
      std::fill(p.dc.begin(), p.dc.end(), 0.0f);
    }
    const float* gates = p.gx.data();
    const float* cs = p.cs.data();
    // Whole rows per thread, each summing its bias gradient in a slice of db.
    const int threads = omp_get_max_threads();
    p.db.assign(threads * G, 0.0f);
    for (std::int64_t t = T - 1; t >= 0; --t) {
      // The f32 gradient of the pre-activations: straight into dA in f32, via da_f in bf16.
      float* da = bf16_ ? p.da_f.data() : reinterpret_cast<float*>(da_op(p, t));
#pragma omp parallel for schedule(static)
      for (int k = 0; k < threads; ++k) {
        const RowRange rows = rows_of_thread(N, k, threads);
        for (std::int64_t n = rows.begin; n < rows.end; ++n)
          backward_row(gates + (t * N + n) * G, cs + t * NH + n * H, cs + (t + 1) * NH + n * H,
                       a.diff_dst + t * NH + n * H, dh + n * H, dc + n * H, da + n * G,
                       p.db.data() + k * G, H);
      }
      if (bf16_) convert_bf16(da, reinterpret_cast<std::uint16_t*>(da_op(p, t)), N * G);
      // dh_{t-1} = dA_t . W_h^T; for t = 0 only the host may want it (diff_state_in).
      if (t > 0 || a.diff_state_in) {
        p.mm_ht.run(stream_, da_op(p, t), p.wht.get_data_handle(), dh);
        stream_.wait();
      }
    }
    if (a.diff_state_in) {
      std::memcpy(a.diff_state_in, dh, NH * sizeof(float));
      std::memcpy(a.diff_state_in + NH, dc, NH * sizeof(float));
    }
    p.weight_gradients(stream_,
                       {hs(p, 0), x_op(p, a.src), a.src_index, p.das.data(), p.das.data(),
                        a.diff_params, a.diff_src},
                       I_, G, T * N, bf16_);
    float* db = a.diff_params + bias_offset();
    add_thread_sums(p.db, threads, G, G, db);
  }

 private:
  friend class MatmulSequence<LstmSequence, LstmPlan>;
  using Plan = LstmPlan;

  // The steps of a, on a plan for a.T, a.N whose weights are loaded. The initial state is kept
  // for backward (a host that carries state in place has overwritten it by then), and so is X
  // in bf16.
  void run(Plan& p, const charnn_forward_args& a) {
    const std::int64_t N = a.N, H = H_, G = G_, NH = N * H;
    const float* b = a.params + bias_offset();
    keep_x(p, a);
    float* cs = p.cs.data();  // (T+1, N, H)
    if (a.state_in) {
      to_op(a.state_in, p.hs.data(), NH);
      std::memcpy(cs, a.state_in + NH, NH * sizeof(float));
    } else {
      std::memset(p.hs.data(), 0, NH * esize());
      std::memset(cs, 0, NH * sizeof(float));
    }
    float* gx = p.gx.data();  // (T, N, 4H)
    if (a.src_index)
      gather_rows(a.src_index, a.T * N, a.params, b, G, gx);
    else
      p.mm_x.run(stream_, x_op(p, a.src), p.wx.get_data_handle(), gx, b);
    for (std::int64_t t = 0; t < a.T; ++t) {
      float* at = gx + t * N * G;
      p.mm_h.run(stream_, hs(p, t), p.wh.get_data_handle(), p.rec.data());
      stream_.wait();
      float* h = a.dst + t * NH;
#pragma omp parallel for schedule(static)
      for (std::int64_t n = 0; n < N; ++n)
        forward_row(at + n * G, p.rec.data() + n * G, cs + t * NH + n * H,
                    cs + (t + 1) * NH + n * H, h + n * H, H);
      to_op(h, hs(p, t + 1), NH);
    }
    stream_.wait();
    if (a.state_out) {
      std::memcpy(a.state_out, a.dst + (a.T - 1) * NH, NH * sizeof(float));
      std::memcpy(a.state_out + NH, cs + a.T * NH, NH * sizeof(float));
    }
  }

  // The signals of T steps that run() left in p and h (T, N, H), in trace order h, c, i, f, o, g:
  // signal k of step t and stream n goes to signals + k * stride + (t * N + n) * H.
  void keep_signals(const Plan& p, const float* h, std::int64_t T, std::int64_t N, float* signals,
                    std::int64_t stride) const {
    const std::int64_t H = H_, G = G_;
    const std::size_t bytes = static_cast<std::size_t>(H) * sizeof(float);
#pragma omp parallel for schedule(static)
    for (std::int64_t r = 0; r < T * N; ++r) {
      float* s = signals + r * H;
      const float* g = p.gx.data() + r * G;  // i, f, g, o
      std::memcpy(s, h + r * H, bytes);
      std::memcpy(s + stride, p.cs.data() + N * H + r * H, bytes);  // c_t is cs row t + 1
      std::memcpy(s + 2 * stride, g, bytes);
      std::memcpy(s + 3 * stride, g + H, bytes);
      std::memcpy(s + 4 * stride, g + 3 * H, bytes);
      std::memcpy(s + 5 * stride, g + 2 * H, bytes);
    }
  }

  void* hs(Plan& p, std::int64_t t) const {
    return p.hs.data() + t * p.N * H_ * esize();
  }
  void* da_op(Plan& p, std::int64_t t) const {
    return p.das.data() + t * p.N * G_ * esize();
  }
  void to_op(const float* from, void* to, std::int64_t n) const {
    if (bf16_)
      convert_bf16(from, static_cast<std::uint16_t*>(to), n);
    else
      std::memcpy(to, from, n * sizeof(float));
  }

  void size_buffers(Plan& p) const {
    const std::int64_t H = H_, G = G_, T = p.T, N = p.N, M = T * N;
    p.gx.resize(M * G);
    p.rec.resize(N * G);
    p.cs.resize((T + 1) * N * H);
    p.hs.resize((T + 1) * N * H * esize());
    if (trains_) {
      p.das.resize(M * G * esize());
      if (bf16_) p.da_f.resize(N * G);
      p.dh.resize(N * H);
      p.dc.resize(N * H);
    }
  }

  // One stream's step: a (4, H) the input part of the pre-activations (with the bias), r the
  // recurrent part; the gates i, f, g, o go to a. Every array its own restrict-qualified
  // parameter, so that GCC vectorises without alias checks.
  static void forward_row(float* a, const float* r, const float* c_prev, float* c, float* h,
                          std::int64_t H) {
    forward_units(a, a + H, a + 2 * H, a + 3 * H, r, r + H, r + 2 * H, r + 3 * H, c_prev, c, h, H);
  }
  CHARNN_CELL_CLONES static void forward_units(
      float* __restrict ai, float* __restrict af, float* __restrict ag, float* __restrict ao,
      const float* __restrict ri, const float* __restrict rf, const float* __restrict rg,
      const float* __restrict ro, const float* __restrict c_prev, float* __restrict c,
      float* __restrict h, std::int64_t H) {
    for (std::int64_t j = 0; j < H; ++j) {
      const LstmUnit u = lstm_unit(ai[j] + ri[j], af[j] + rf[j], ag[j] + rg[j], ao[j] + ro[j],
                                   c_prev[j]);
      ai[j] = u.i;
      af[j] = u.f;
      ag[j] = u.g;
      ao[j] = u.o;
      c[j] = u.c;
      h[j] = u.h;
    }
  }

  // One stream's step back: gates (4, H) as forward left them, dh_out the loss gradient of
  // this step's h from above; dh (in: from later steps), dc (in/out), da (4, H) out, db (4, H)
  // accumulated.
  static void backward_row(const float* g, const float* c_prev, const float* c, const float* dh_out,
                           const float* dh, float* dc, float* da, float* db, std::int64_t H) {
    backward_units(g, g + H, g + 2 * H, g + 3 * H, c_prev, c, dh_out, dh, dc, da, da + H,
                   da + 2 * H, da + 3 * H, db, db + H, db + 2 * H, db + 3 * H, H);
  }
  CHARNN_CELL_CLONES static void backward_units(
      const float* __restrict gi, const float* __restrict gf, const float* __restrict gg,
      const float* __restrict go, const float* __restrict c_prev, const float* __restrict c,
      const float* __restrict dh_out, const float* __restrict dh, float* __restrict dc,
      float* __restrict dai, float* __restrict daf, float* __restrict dag, float* __restrict dao,
      float* __restrict dbi, float* __restrict dbf, float* __restrict dbg, float* __restrict dbo,
      std::int64_t n) {
    for (std::int64_t j = 0; j < n; ++j) {
      const float i = gi[j], f = gf[j], g = gg[j], o = go[j];
      const float tc = fast_tanh(c[j]);
      const float dht = dh_out[j] + dh[j];
      const float dct = dc[j] + dht * o * (1.0f - tc * tc);
      const float vi = dct * g * i * (1.0f - i);
      const float vf = dct * c_prev[j] * f * (1.0f - f);
      const float vg = dct * i * (1.0f - g * g);
      const float vo = dht * tc * o * (1.0f - o);
      dai[j] = vi;
      daf[j] = vf;
      dag[j] = vg;
      dao[j] = vo;
      dbi[j] += vi;
      dbf[j] += vf;
      dbg[j] += vg;
      dbo[j] += vo;
      dc[j] = dct * f;
    }
  }
};

}  // namespace charnn_cells
