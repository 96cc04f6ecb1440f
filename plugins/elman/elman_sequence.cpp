// See elman_sequence.hpp.
#include "elman_sequence.hpp"

#include <algorithm>
#include <cstring>
#include <string>

namespace charnn_cells {

namespace {
constexpr auto kTanh = dnnl::algorithm::eltwise_tanh;
constexpr auto kLeftToRight = dnnl::rnn_direction::unidirectional_left2right;
}  // namespace

ElmanSequence::ElmanSequence(std::int64_t input_size, std::int64_t hidden_size)
    : I_(input_size), H_(hidden_size), stream_(cpu_engine()) {
  backend_guard("create", [&] {
    w_layer_f_ = wrap(memory::desc({1, 1, I_, 1, H_}, dt::f32, tag::ldigo));
    w_iter_f_ = wrap(memory::desc({1, 1, H_, 1, H_}, dt::f32, tag::ldigo));
  });
}

void ElmanSequence::set_bf16(bool bf16) {
  if (bf16 == train_bf16_) return;
  train_bf16_ = bf16;
  for (auto it = plans_.begin(); it != plans_.end();)
    it = std::get<2>(it->first) ? plans_.erase(it) : std::next(it);
  trained_ = nullptr;
}

void ElmanSequence::forward(const charnn_forward_args& a) {
  Plan& pl = plan(a.T, a.N, a.training != 0);
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
}

void ElmanSequence::backward(const charnn_backward_args& a) {
  if (!trained_ || trained_T_ != a.T || trained_N_ != a.N)
    throw Error(CHARNN_ERR_STATE, "backward: no training forward with T=" + std::to_string(a.T) +
                                      ", N=" + std::to_string(a.N) + " precedes it on this cell");
  Plan& pl = *trained_;
  const std::int64_t wl = I_ * H_, wi = H_ * H_;
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
  bind(pl.diff.src_layer, a.diff_src ? a.diff_src : pl.scratch_src.data());
  bind(pl.diff.src_iter, a.diff_state_in ? a.diff_state_in : pl.scratch_state.data());
  bind(pl.diff.w_layer, a.diff_params);
  bind(pl.diff.w_iter, a.diff_params + wl);
  bind(pl.diff_bias, a.diff_params + wl + wi);
  bind(pl.diff.dst_layer, a.diff_dst);
  // A copy, so diff_state_in may be the same buffer as diff_state_out.
  const float* dso = pl.zeros.data();
  if (a.diff_state_out) {
    std::memcpy(pl.diff_state_out.data(), a.diff_state_out,
                pl.diff_state_out.size() * sizeof(float));
    dso = pl.diff_state_out.data();
  }
  bind(pl.diff.dst_iter, dso);
  pl.bwd.run(stream_);
  stream_.wait();
}

ElmanSequence::Plan& ElmanSequence::plan(std::int64_t T, std::int64_t N, bool training) {
  auto& slot = plans_[std::make_tuple(T, N, training)];
  if (slot) return *slot;
  auto pl = std::make_unique<Plan>();
  const bool bf = training && train_bf16_;
  const dt op = bf ? dt::bf16 : dt::f32;  // the matrix products' operands
  Descs d;
  d.src_layer = memory::desc({T, N, I_}, op, tag::tnc);
  d.src_iter = memory::desc({1, 1, N, H_}, op, tag::ldnc);
  d.weights_layer = memory::desc({1, 1, I_, 1, H_}, op, tag::ldigo);
  d.weights_iter = memory::desc({1, 1, H_, 1, H_}, op, tag::ldigo);
  d.bias = memory::desc({1, 1, 1, H_}, dt::f32, tag::ldgo);
  d.dst_layer = memory::desc({T, N, H_}, op, tag::tnc);
  d.dst_iter = d.src_iter;
  // The gradients, all f32 (also the f32 views of the host's buffers in a bf16 plan).
  DiffDescs g;
  g.src_layer = memory::desc({T, N, I_}, dt::f32, tag::tnc);
  g.src_iter = memory::desc({1, 1, N, H_}, dt::f32, tag::ldnc);
  g.weights_layer = memory::desc({1, 1, I_, 1, H_}, dt::f32, tag::ldigo);
  g.weights_iter = memory::desc({1, 1, H_, 1, H_}, dt::f32, tag::ldigo);
  g.bias = d.bias;
  g.dst_layer = memory::desc({T, N, H_}, dt::f32, tag::tnc);
  g.dst_iter = g.src_iter;

  const auto prop =
      training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
  const auto fpd =
      charnn::onednn::make_vanilla_rnn_forward_pd(cpu_engine(), prop, kTanh, kLeftToRight, d);
  pl->bias = wrap(d.bias);
  if (bf) {
    pl->bf16 = true;
    own_bf16_operands(*pl, d);
    pl->src_f = wrap(g.src_layer);
    pl->h_in_f = wrap(g.src_iter);
    pl->dst_f = wrap(g.dst_layer);
    pl->h_out_f = wrap(g.src_iter);
    make_reorder(pl->cvt_w_layer, w_layer_f_, pl->w_layer);
    make_reorder(pl->cvt_w_iter, w_iter_f_, pl->w_iter);
    make_reorder(pl->cvt_src, pl->src_f, pl->src_layer);
    make_reorder(pl->cvt_h_in, pl->h_in_f, pl->src_iter);
    make_reorder(pl->cvt_dst, pl->dst_layer, pl->dst_f);
    make_reorder(pl->cvt_h_out, pl->dst_iter, pl->h_out_f);
  } else {
    wrap_f32_operands(*pl, d, training);
  }
  make_forward(*pl, fpd, training);
  // The scratchpad is oneDNN's default (library-managed), so it needs no argument here.
  pl->zeros.assign(static_cast<size_t>(N * H_), 0.0f);
  pl->state_out.assign(static_cast<size_t>(N * H_), 0.0f);
  if (training) {
    make_backward(*pl, d, g, fpd);
    pl->scratch_src.assign(static_cast<size_t>(T * N * I_), 0.0f);
    pl->scratch_state.assign(static_cast<size_t>(N * H_), 0.0f);
    pl->state_in.assign(static_cast<size_t>(N * H_), 0.0f);
    pl->diff_state_out.assign(static_cast<size_t>(N * H_), 0.0f);
  }
  slot = std::move(pl);
  return *slot;
}

// The operands or their gradients (all but the bias), each made by make(desc): owned (bf16
// operands) or wrapping the host's buffers (f32 operands, gradients).
template <class Target, class D, class Make>
void ElmanSequence::set_operands(Target& o, const D& d, Make make) {
  o.src_layer = make(d.src_layer);
  o.src_iter = make(d.src_iter);
  o.w_layer = make(d.weights_layer);
  o.w_iter = make(d.weights_iter);
  o.dst_layer = make(d.dst_layer);
  o.dst_iter = make(d.dst_iter);
}

// A bf16 training plan owns its operands; backward's bf16 ldgoi weights do not depend on T or N.
void ElmanSequence::own_bf16_operands(Plan& pl, const Descs& d) {
  auto own = [](const memory::desc& md) { return memory(md, cpu_engine()); };
  set_operands(pl, d, own);
  if (w_layer_bb_) return;
  w_layer_bb_ = own(memory::desc({1, 1, I_, 1, H_}, dt::bf16, tag::ldgoi));  // (I, H) ldgoi
  w_iter_bb_ = own(memory::desc({1, 1, H_, 1, H_}, dt::bf16, tag::ldgoi));   // (H, H) ldgoi
  make_reorder(reorder_layer_bf_, w_layer_f_, w_layer_bb_);
  make_reorder(reorder_iter_bf_, w_iter_f_, w_iter_bb_);
}

// An f32 plan reads and writes the host's buffers in place; training also needs backward's
// f32 ldgoi weights, which do not depend on T or N.
void ElmanSequence::wrap_f32_operands(Plan& pl, const Descs& d, bool training) {
  set_operands(pl, d, [](const memory::desc& md) { return wrap(md); });
  if (!training || w_layer_b_) return;
  w_layer_b_ = memory({{1, 1, I_, 1, H_}, dt::f32, tag::ldgoi}, cpu_engine());  // (I, H) ldgoi
  w_iter_b_ = memory({{1, 1, H_, 1, H_}, dt::f32, tag::ldgoi}, cpu_engine());   // (H, H) ldgoi
  make_reorder(reorder_layer_, w_layer_f_, w_layer_b_);
  make_reorder(reorder_iter_, w_iter_f_, w_iter_b_);
}

void ElmanSequence::make_forward(Plan& pl, const dnnl::vanilla_rnn_forward::primitive_desc& fpd,
                                 bool training) {
  pl.fwd.prim = dnnl::vanilla_rnn_forward(fpd);
  Prepared& f = pl.fwd;
  f.add(DNNL_ARG_SRC_LAYER, pl.src_layer);
  f.add(DNNL_ARG_SRC_ITER, pl.src_iter);
  f.add(DNNL_ARG_WEIGHTS_LAYER, pl.w_layer);
  f.add(DNNL_ARG_WEIGHTS_ITER, pl.w_iter);
  f.add(DNNL_ARG_BIAS, pl.bias);
  f.add(DNNL_ARG_DST_LAYER, pl.dst_layer);
  f.add(DNNL_ARG_DST_ITER, pl.dst_iter);
  if (training) {
    pl.workspace = memory(fpd.workspace_desc(), cpu_engine());
    f.add(DNNL_ARG_WORKSPACE, pl.workspace);
  }
}

// Backward wants ldgoi weights; the weight gradients stay in the forward layout (ldigo) and
// accumulate straight into the host's diff_params.
void ElmanSequence::make_backward(Plan& pl, const Descs& d, const DiffDescs& g,
                                  const dnnl::vanilla_rnn_forward::primitive_desc& fpd) {
  const dt op = pl.bf16 ? dt::bf16 : dt::f32;
  Descs db = d;
  db.weights_layer = memory::desc({1, 1, I_, 1, H_}, op, tag::ldgoi);
  db.weights_iter = memory::desc({1, 1, H_, 1, H_}, op, tag::ldgoi);
  const auto bpd =
      charnn::onednn::make_vanilla_rnn_backward_pd(cpu_engine(), kTanh, kLeftToRight, db, g, fpd);
  set_operands(pl.diff, g, [](const memory::desc& md) { return wrap(md); });
  pl.diff_bias = wrap(g.bias);
  pl.bwd.prim = dnnl::vanilla_rnn_backward(bpd);
  const bool bf = pl.bf16;
  const std::pair<int, const memory*> args[] = {
      {DNNL_ARG_SRC_LAYER, &pl.src_layer},
      {DNNL_ARG_SRC_ITER, &pl.src_iter},
      {DNNL_ARG_WEIGHTS_LAYER, bf ? &w_layer_bb_ : &w_layer_b_},
      {DNNL_ARG_WEIGHTS_ITER, bf ? &w_iter_bb_ : &w_iter_b_},
      {DNNL_ARG_BIAS, &pl.bias},
      {DNNL_ARG_DST_LAYER, &pl.dst_layer},
      {DNNL_ARG_DST_ITER, &pl.dst_iter},
      {DNNL_ARG_WORKSPACE, &pl.workspace},
      {DNNL_ARG_DIFF_SRC_LAYER, &pl.diff.src_layer},
      {DNNL_ARG_DIFF_SRC_ITER, &pl.diff.src_iter},
      {DNNL_ARG_DIFF_WEIGHTS_LAYER, &pl.diff.w_layer},
      {DNNL_ARG_DIFF_WEIGHTS_ITER, &pl.diff.w_iter},
      {DNNL_ARG_DIFF_BIAS, &pl.diff_bias},
      {DNNL_ARG_DIFF_DST_LAYER, &pl.diff.dst_layer},
      {DNNL_ARG_DIFF_DST_ITER, &pl.diff.dst_iter}};
  for (const auto& [arg, mem] : args) pl.bwd.add(arg, *mem);
}

void ElmanSequence::bind_forward(Plan& pl, const float* params, const float* src,
                                 const float* state_in, float* dst) {
  const std::int64_t wl = I_ * H_, wi = H_ * H_;
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

}  // namespace charnn_cells
