// The GRU's prepared one-step path (plugin ABI 1.1, prepare_step), for sampling: x . w_x and
// h . w_h on prepared copies of the weights (prepared_product.hpp: f32, bf16 or int8), kept
// apart because the reset gate scales the n part of the second, then the update of
// gru_unit.hpp:
//   one-hot (src_index): ax = w_x[id] + b_x (gathered, f32);  dense (src): ax = b_x + x . w_x
//   ah = b_h + h . w_h
// Parameter layout as in gru_sequence.hpp.
#pragma once

#include <charnn/plugin.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "gru_unit.hpp"
#include "prepared_product.hpp"
#include "vector_loops.hpp"

namespace charnn_cells {

class GruPreparedStep {
 public:
  GruPreparedStep(std::int64_t input_size, std::int64_t hidden_size)
      : I_(input_size), H_(hidden_size), x_(I_, 3 * H_), h_(H_, 3 * H_) {}

  // Drops any prepared copy, then (params not NULL) checks that this CPU runs the precision
  // natively and that int8 can represent the weights, and remembers params; the copies are
  // made on the first step of each stream count.
  void prepare(const float* params, charnn_precision precision) {
    params_ = nullptr;
    x_.prepare(nullptr, dt::f32, "");
    h_.prepare(nullptr, dt::f32, "");
    bx_ = {};
    bh_ = {};
    xb_ = {};
    if (!params) return;
    const std::int64_t G = 3 * H_;
    const dt type = prepared_type(precision, "prepare_step");
    x_.prepare(params, type, "w_x");
    h_.prepare(params + I_ * G, type, "w_h");
    const float* bx = params + (I_ + H_) * G;
    bx_.assign(bx, bx + G);
    bh_.assign(bx + G, bx + 2 * G);
    xb_.resize(static_cast<std::size_t>(I_ * G));
    for (std::int64_t i = 0; i < I_; ++i)
      for (std::int64_t k = 0; k < G; ++k) xb_[i * G + k] = params[i * G + k] + bx[k];
    params_ = params;
  }
  // Whether step() serves a step on these parameters.
  bool holds(const float* params) const { return params_ && params == params_; }

  // One step of N streams from the one-hot src_index (N) or the dense src (N, I): state h
  // (N, H) updated in place, dst (N, H) receives it too.
  void step(std::int64_t N, const float* src, const std::int32_t* src_index, float* state,
            float* dst) {
    const std::int64_t G = 3 * H_;
    ax_.resize(static_cast<std::size_t>(N * G));
    ah_.resize(static_cast<std::size_t>(N * G));
    const std::size_t row_bytes = static_cast<std::size_t>(G) * sizeof(float);
    for (std::int64_t n = 0; n < N; ++n) {
      const float* x_row =
          src_index ? xb_.data() + static_cast<std::int64_t>(src_index[n]) * G : bx_.data();
      std::memcpy(ax_.data() + n * G, x_row, row_bytes);
      std::memcpy(ah_.data() + n * G, bh_.data(), row_bytes);
    }
    if (!src_index) x_.add_to(N, {{src, I_}}, ax_.data());
    h_.add_to(N, {{state, H_}}, ah_.data());
    for (std::int64_t n = 0; n < N; ++n)
      update_row(ax_.data() + n * G, ah_.data() + n * G, state + n * H_, dst + n * H_, H_);
  }

 private:
  // The sampling hot path's pointwise part, built for AVX-512 and AVX2 too.
  CHARNN_CELL_CLONES static void update_row(const float* __restrict ax,
                                            const float* __restrict ah, float* __restrict h,
                                            float* __restrict out, std::int64_t H) {
    for (std::int64_t j = 0; j < H; ++j) {
      const GruUnit u =
          gru_unit(ax[j], ax[H + j], ax[2 * H + j], ah[j], ah[H + j], ah[2 * H + j], h[j]);
      h[j] = u.h;
      out[j] = u.h;
    }
  }

  const std::int64_t I_, H_;
  PreparedProduct x_;  // w_x (I, 3H): dense input only
  PreparedProduct h_;  // w_h (H, 3H)
  const float* params_ = nullptr;  // the host's params the copies are made from
  // f32 copies of the biases (the contract allows reading the host's buffer, but a copy keeps
  // "prepared" meaning one thing for all of it).
  std::vector<float> bx_, bh_;  // (3H) each
  std::vector<float> xb_;       // (I, 3H) w_x + b_x row by row: the one-hot input's ax
  std::vector<float> ax_, ah_;  // (N, 3H)
};

}  // namespace charnn_cells
