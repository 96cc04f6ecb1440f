// The part of a built-in cell (elman, lstm) that does not depend on how its sequences run: the
// parameter tensors and their initialisation, the one-step path (step, prepare_step) and the
// traced loop for a cell without a traced sequence of its own. Sequences (forward, backward) are each cell's own:
//   elman: oneDNN's vanilla_rnn primitive, elman/elman_sequence.cpp
//   lstm:  oneDNN matmul primitives, lstm/lstm_sequence.hpp (training and inference)
//
// Parameter layout (the flat buffer the host gives the cell), G gates, I input width, H hidden:
//   w_x (I, G, H), w_h (H, G, H), b (G, H), back to back; see step_gates.hpp.
// States: S tensors (N, H) back to back, h first.
//
// A derived cell supplies its sequence passes, the bias initialisation and the pointwise part of
// one step (the gate nonlinearities and state update), which step() and trace() share.
#pragma once

#include <charnn/plugin.hpp>

#include <cstdint>
#include <map>
#include <vector>

#include "onednn_support.hpp"
#include "prepared_step.hpp"
#include "sequence_args.hpp"
#include "step_gates.hpp"

namespace charnn_cells {

class RnnCell : public charnn::plugin::Cell {
 public:
  RnnCell(std::int64_t input_size, std::int64_t hidden_size, std::int64_t gates,
          std::int64_t states);

  std::vector<charnn_tensor_info> params() const override;
  void init_params(float* p, std::uint64_t seed) const override;
  // Check the arguments, then run the derived cell's sequence pass.
  void forward(const charnn_forward_args& a) final;
  void backward(const charnn_backward_args& a) final;
  // Refuses bf16 where this CPU does not run it natively (oneDNN 2.6 would emulate it, slower
  // than f32), then tells the derived cell.
  void set_train_precision(charnn_precision precision) final;
  // Offered when the derived cell's sequences can gather (index_sequences); then forward and
  // backward check src_index instead of src.
  void set_index_input(bool enable) final;
  // Offered when the derived cell's trace can gather (trace_sequence_by_index); then trace
  // checks src_index instead of src.
  void set_trace_index_input(bool enable) final;
  void step(const charnn_step_args& a) override;
  void prepare_step(const float* params, charnn_precision precision) override;
  void trace(const charnn_trace_args& a) override;

 protected:
  // The sequence passes on checked arguments; oneDNN errors become CHARNN_ERR_BACKEND.
  virtual void sequence_forward(const charnn_forward_args& a) = 0;
  virtual void sequence_backward(const charnn_backward_args& a) = 0;
  // Whether training passes use bfloat16 products from now on.
  virtual void train_bf16(bool bf16) = 0;
  // A traced sequence the way forward runs it (the input product over all steps at once),
  // keeping every signal; false = not offered, and trace() runs the one-step path per step.
  virtual bool sequence_trace(const charnn_trace_args&) { return false; }
  // Whether the sequence passes read src_index from now on; false = the cell cannot.
  virtual bool index_sequences(bool enable) { return !enable; }
  // Whether trace may be given src_index: the derived cell's sequence_trace reads it (from
  // inference_args) when it is set. The one-step loop of a cell without one reads src only.
  virtual bool trace_sequence_by_index() const { return false; }
  // Fills the bias part (G, H) of the parameter buffer.
  virtual void bias_init(float* b) const = 0;
  // One step's pointwise part, for N streams: gates (N, G, H) pre-activations (may be
  // overwritten), state (S, N, H) updated in place, dst (N, H) receives h. When signals is not
  // NULL, signal k for this step goes to signals + k*signal_stride, each (N, H).
  virtual void pointwise(float* gates, float* state, float* dst, std::int64_t N, float* signals,
                         std::int64_t signal_stride) const = 0;

  const std::int64_t I_, H_, G_, S_;

 private:
  // The argument checks forward, backward and trace share.
  // by_index: the input is src_index (set_index_input), else src.
  void check_seq(std::int64_t T, std::int64_t N, const float* params, const float* src,
                 bool by_index, const std::int32_t* src_index, const float* dst,
                 const char* what) const;

  bool index_input_ = false, trace_index_input_ = false;

  StepGates plain_;
  PreparedStep prepared_;
  std::map<std::int64_t, std::vector<float>> trace_state_;  // by N: (S, N, H)
};

}  // namespace charnn_cells
