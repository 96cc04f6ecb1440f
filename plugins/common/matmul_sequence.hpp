// The part of a cell's matmul-based sequence that does not depend on its step, shared by the
// LSTM and the GRU (lstm/lstm_sequence.hpp, gru/gru_sequence.hpp): the plans per (T, N) for the
// current precision, the forward pass (whole for training, in chunks for inference) and which
// plan backward consumes. The cell (CRTP) gives its plan's own buffers and its steps:
//
//   void size_buffers(Plan& p) const;                  after p's products are made
//   void run(Plan& p, const charnn_forward_args& a);    the steps of a on p
//   void keep_signals(const Plan& p, const float* h, std::int64_t T, std::int64_t N,
//                     float* signals, std::int64_t stride) const;   trace signals of a run
#pragma once

#include <charnn/plugin.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "matmul_parts.hpp"
#include "onednn_support.hpp"
#include "sequence_products.hpp"
#include "vector_loops.hpp"

namespace charnn_cells {

// What differs between the cells' products: gate rows per unit (4 for the LSTM, 3 for the GRU),
// state vectors per stream (h and c, or h), and the GRU's recurrent bias and accumulating dh.
struct SequenceLayout {
  std::int64_t gates = 0, states = 0;
  bool h_bias = false, ht_accumulates = false;
};

// Without backward to feed, an inference forward runs in chunks of about this many rows, so that
// gates and states are kept for a chunk, not the whole sequence (for 32 x 64 batches of a
// 512-unit LSTM: 6 MB instead of 25 MB); the input product stays a large one.
inline constexpr std::int64_t kInferenceRows = 512;

// Calls chunk(c, t0, first_of_plan) for the consecutive chunks of a's steps: c is a cut to
// steps [t0, t0 + c.T) of I inputs and H outputs, its state carried through `carry` (state_size
// floats). All chunks have the same T but perhaps the last; first_of_plan is true for the first
// chunk of each length, when the cell loads the weights into that length's plan.
template <class Chunk>
void forward_in_chunks(const charnn_forward_args& a, std::int64_t I, std::int64_t H,
                       std::int64_t state_size, std::vector<float>& carry, Chunk&& chunk) {
  const std::int64_t Tc = std::clamp<std::int64_t>(kInferenceRows / a.N, 1, a.T);
  carry.resize(static_cast<std::size_t>(state_size));
  for (std::int64_t t0 = 0; t0 < a.T; t0 += Tc) {
    charnn_forward_args c = a;
    c.T = std::min(Tc, a.T - t0);
    c.src = a.src ? a.src + t0 * a.N * I : nullptr;
    c.src_index = a.src_index ? a.src_index + t0 * a.N : nullptr;
    c.dst = a.dst + t0 * a.N * H;
    c.state_in = t0 == 0 ? a.state_in : carry.data();
    c.state_out = t0 + c.T == a.T ? a.state_out : carry.data();
    chunk(c, t0, t0 == 0 || c.T != Tc);
  }
}

template <class Cell, class Plan>
class MatmulSequence {
 public:
  // Plans are made per (T, N) for the current precision.
  void set_bf16(bool bf16) {
    if (bf16 == bf16_) return;
    bf16_ = bf16;
    plans_.clear();
    weights_.clear();
    last_ = nullptr;
  }

  // signals: NULL, or the cell's trace signals of every step (inference sequences only).
  void forward(const charnn_forward_args& a, float* signals = nullptr) {
    if (trains_) {
      Plan& p = plan(a.T, a.N);
      load_weights(p, a);
      cell().run(p, a);
      last_ = &p;
      return;
    }
    forward_in_chunks(a, I_, H_, layout_.states * a.N * H_, carry_,
                      [&](const charnn_forward_args& c, std::int64_t t0, bool first_of_plan) {
                        Plan& p = plan(c.T, c.N);
                        if (first_of_plan) load_weights(p, a);
                        cell().run(p, c);
                        if (signals)
                          cell().keep_signals(p, c.dst, c.T, c.N, signals + t0 * c.N * H_,
                                              a.T * a.N * H_);
                      });
  }

 protected:
  // A sequence that never trains (validation, eval, sampling) keeps no backward buffers or
  // products: for the 2x512 LSTM on 32 x 64 batches that is ~50 MB less.
  MatmulSequence(std::int64_t input_size, std::int64_t hidden_size, bool trains,
                 SequenceLayout layout)
      : I_(input_size),
        H_(hidden_size),
        G_(layout.gates * hidden_size),
        trains_(trains),
        stream_(cpu_engine()),
        layout_(layout) {}

  // The plan of the training forward that backward consumes.
  Plan& trained_plan(const charnn_backward_args& a) {
    if (!trains_) throw Error(CHARNN_ERR_INTERNAL, "backward on an inference-only sequence");
    if (!last_ || last_->T != a.T || last_->N != a.N)
      throw Error(CHARNN_ERR_STATE, "backward: no training forward with T=" + std::to_string(a.T) +
                                        ", N=" + std::to_string(a.N) + " precedes it on this cell");
    return *last_;
  }

  Plan& plan(std::int64_t T, std::int64_t N) {
    auto& slot = plans_[{T, N}];
    if (slot) return *slot;
    auto p = std::make_unique<Plan>();
    p->init({.I = I_, .H = H_, .G = G_, .T = T, .N = N, .op = op(), .trains = trains_,
             .h_bias = layout_.h_bias, .ht_accumulates = layout_.ht_accumulates},
            weights_);
    if (bf16_) p->xs.resize(static_cast<std::size_t>(T * N * I_ * 2));
    cell().size_buffers(*p);
    slot = std::move(p);
    return *slot;
  }

  // X in the products' type, kept for backward: the host's own src in f32 (the ABI gives
  // backward the same src as forward), a bf16 copy made here otherwise.
  void keep_x(Plan& p, const charnn_forward_args& a) const {
    if (bf16_ && !a.src_index)
      convert_bf16(a.src, reinterpret_cast<std::uint16_t*>(p.xs.data()), a.T * a.N * I_);
  }
  const void* x_op(Plan& p, const float* src) const {
    return bf16_ ? static_cast<const void*>(p.xs.data()) : src;
  }

  // Where the biases start in the flat parameters (or their gradients): after W_x and W_h.
  std::int64_t bias_offset() const { return (I_ + H_) * G_; }

  std::size_t esize() const { return bf16_ ? 2 : 4; }
  dt op() const { return bf16_ ? dt::bf16 : dt::f32; }

  const std::int64_t I_, H_, G_;
  const bool trains_;
  bool bf16_ = false;
  dnnl::stream stream_;

 private:
  Cell& cell() { return static_cast<Cell&>(*this); }
  void load_weights(Plan& p, const charnn_forward_args& a) {
    p.load_weights(stream_, a.params, I_, G_, a.src_index == nullptr);
  }

  const SequenceLayout layout_;
  std::map<std::pair<std::int64_t, std::int64_t>, std::unique_ptr<Plan>> plans_;
  Plan* last_ = nullptr;      // the plan of the last training forward, which backward consumes
  std::vector<float> carry_;  // the state between an inference forward's chunks
  WeightBuffers weights_;     // of every plan, by layout
};

}  // namespace charnn_cells
