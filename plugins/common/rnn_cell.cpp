// See rnn_cell.hpp.
#include "rnn_cell.hpp"

#include "sequence_args.hpp"

#include <charnn/random.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <string>

namespace charnn_cells {

RnnCell::RnnCell(std::int64_t input_size, std::int64_t hidden_size, std::int64_t gates,
                 std::int64_t states)
    : I_(input_size),
      H_(hidden_size),
      G_(gates),
      S_(states),
      plain_(input_size, hidden_size, gates),
      prepared_(input_size, hidden_size, gates) {}

std::vector<charnn_tensor_info> RnnCell::params() const {
  // Elman (G = 1) shows its tensors without the unit gate axis; the bytes are the same.
  if (G_ == 1) return {{"w_x", 2, {I_, H_}}, {"w_h", 2, {H_, H_}}, {"b", 1, {H_}}};
  return {{"w_x", 3, {I_, G_, H_}}, {"w_h", 3, {H_, G_, H_}}, {"b", 2, {G_, H_}}};
}

void RnnCell::init_params(float* p, std::uint64_t seed) const {
  // uniform(-1/sqrt(H), 1/sqrt(H)) for the weights (the usual fan-in rule for recurrent
  // layers), biases from bias_init().
  charnn::SplitMix64 rng(seed);
  const float a = 1.0f / std::sqrt(static_cast<float>(H_));
  const std::int64_t nw = (I_ + H_) * G_ * H_;
  for (std::int64_t k = 0; k < nw; ++k) p[k] = rng.uniform_sym(a);
  bias_init(p + nw);
}

void RnnCell::forward(const charnn_forward_args& a) {
  const charnn_forward_args c = known_fields(a, index_input_);
  check_seq(c.T, c.N, c.params, c.src, index_input_, c.src_index, c.dst, "forward");
  backend_guard("forward", [&] { sequence_forward(c); });
}

void RnnCell::backward(const charnn_backward_args& a) {
  const charnn_backward_args c = known_fields(a, index_input_);
  check_seq(c.T, c.N, c.params, c.src, index_input_, c.src_index, c.dst, "backward");
  if (!c.diff_dst || !c.diff_params)
    throw Error(CHARNN_ERR_ARGUMENT, "backward: diff_dst and diff_params are required");
  if (index_input_ && c.diff_src)
    throw Error(CHARNN_ERR_ARGUMENT, "backward: no diff_src for an input given by index");
  backend_guard("backward", [&] { sequence_backward(c); });
}

void RnnCell::set_train_precision(charnn_precision precision) {
  const bool bf = precision == CHARNN_PRECISION_BF16;
  if (bf) require_native_bf16("set_train_precision");
  train_bf16(bf);
}

void RnnCell::set_index_input(bool enable) {
  if (!index_sequences(enable))
    throw Error(CHARNN_ERR_UNSUPPORTED, "this cell's sequences read a dense src only");
  index_input_ = enable;
}

void RnnCell::set_trace_index_input(bool enable) {
  if (enable && !trace_sequence_by_index())
    throw Error(CHARNN_ERR_UNSUPPORTED, "this cell's traced sequence reads a dense src only");
  trace_index_input_ = enable;
}

void RnnCell::step(const charnn_step_args& a) {
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
    float* gates = prepared_.holds(a.params)
                       ? prepared_.run(a.N, a.src, a.src_index, a.state)
                       : plain_.run(a.N, a.params, a.src, a.src_index, a.state);
    pointwise(gates, a.state, a.dst, a.N, nullptr, 0);
  });
}

void RnnCell::prepare_step(const float* params, charnn_precision precision) {
  prepared_.prepare(params, precision);
}

void RnnCell::trace(const charnn_trace_args& args) {
  const charnn_trace_args a = known_fields(args, trace_index_input_);
  check_seq(a.T, a.N, a.params, a.src, trace_index_input_, a.src_index, a.dst, "trace");
  if (!a.signals) throw Error(CHARNN_ERR_ARGUMENT, "trace: signals is required");
  backend_guard("trace", [&] {
    if (sequence_trace(a)) return;
    const std::int64_t NH = a.N * H_;
    std::vector<float>& st = trace_state_[a.N];
    if (st.empty()) st.assign(static_cast<std::size_t>(S_ * NH), 0.0f);
    float* state = st.data();  // (S, N, H)
    if (a.state_in)
      std::memcpy(state, a.state_in, S_ * NH * sizeof(float));
    else
      std::fill(st.begin(), st.end(), 0.0f);
    for (std::int64_t t = 0; t < a.T; ++t) {
      float* gates = plain_.run(a.N, a.params, a.src + t * a.N * I_, nullptr, state);
      // Signal k of step t starts at signals + (k*T + t)*N*H.
      pointwise(gates, state, a.dst + t * NH, a.N, a.signals + t * NH, a.T * NH);
    }
    if (a.state_out) std::memcpy(a.state_out, state, S_ * NH * sizeof(float));
  });
}

void RnnCell::check_seq(std::int64_t T, std::int64_t N, const float* params, const float* src,
                        bool by_index, const std::int32_t* src_index, const float* dst,
                        const char* what) const {
  check_sequence_args(I_, T, N, params, src, by_index, src_index, dst, what);
}

}  // namespace charnn_cells
