// The model: cell layers from plugins, dropout, and the output layer (output_layer.hpp: linear
// + softmax cross-entropy). Layout of the flat parameter buffer: layer 0's cell tensors, layer
// 1's, ..., then out.w (H, V) and out.b (V). The one-step path for sampling is model_step.cpp.
// All per-shape objects (oneDNN matmuls, scratch buffers) are made on the first call with a
// shape and reused, so a training step allocates nothing after warm-up.
#include "charnn/model.hpp"
#include "enum_names.hpp"
#include "model_impl.hpp"
#include "util.hpp"

#include <charnn/error.hpp>
#include <charnn/plugin_registry.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>

namespace charnn {

using detail::check_ids;

namespace {

using detail::splitmix64;

// Uniform in [0, 1) from the top 24 bits: exactly representable in float.
inline float unit_float(std::uint64_t bits) {
  return static_cast<float>(bits >> 40) * (1.0f / 16777216.0f);
}

}  // namespace

namespace {

void check_config(const ModelConfig& c) {
  if (c.cells.empty()) throw error("a model needs at least one layer (--cell / --layers)");
  if (c.hidden < 1)
    throw error("hidden size must be at least 1 (got " + std::to_string(c.hidden) + ")");
  if (c.vocab_size < 1) throw error("a model needs a vocabulary of at least 1 unit");
  if (!(c.dropout >= 0.0f && c.dropout < 1.0f))
    throw error("dropout must be in [0, 1) (got " + std::to_string(c.dropout) + ")");
  if (!(c.weight_drop >= 0.0f && c.weight_drop < 1.0f))
    throw error("weight drop must be in [0, 1) (got " + std::to_string(c.weight_drop) + ")");
}

constexpr detail::EnumNames<DropoutMask, 2> kDropoutMasks{
    {{DropoutMask::step, "step"}, {DropoutMask::segment, "segment"}}};

}  // namespace

DropoutMask parse_dropout_mask(std::string_view name) {
  return detail::parse_name(kDropoutMasks, name, "dropout mask");
}

std::string to_string(DropoutMask m) {
  return detail::name_of(kDropoutMasks, m);
}

bool names_recurrent_weights(const Cell& cell) {
  return std::any_of(cell.params().begin(), cell.params().end(),
                     [](const TensorShape& p) { return p.name == kRecurrentWeights; });
}

std::int64_t Model::param_count(const ModelConfig& config, const PluginRegistry& plugins) {
  check_config(config);
  const std::int64_t H = config.hidden, V = config.vocab_size;
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  if (H > (kMax - V) / V)
    throw error("a model of hidden size " + std::to_string(H) + " and " + std::to_string(V) +
                " units overflows");
  std::int64_t n = H * V + V;  // out.w, out.b
  for (std::size_t l = 0; l < config.cells.size(); ++l) {
    // Creating a cell only asks the plugin for its shapes; buffers come with the first pass.
    const std::int64_t c = plugins.create_cell(config.cells[l], l == 0 ? V : H, H).param_count();
    if (c > kMax - n) throw error("the model's parameter count overflows");
    n += c;
  }
  return n;
}

Model::Model(ModelConfig config, const PluginRegistry& plugins) : config_(std::move(config)) {
  check_config(config_);
  const std::int64_t H = config_.hidden, V = config_.vocab_size;
  std::int64_t offset = 0;
  for (std::size_t l = 0; l < config_.cells.size(); ++l) {
    layers_.push_back(plugins.create_cell(config_.cells[l], l == 0 ? V : H, H));
    if (l == 0) {  // a plugin without these reads dense one-hot rows
      layers_.back().set_index_input(true);
      layers_.back().set_trace_index_input(true);
    }
    const Cell& cell = layers_.back();
    layer_offset_.push_back(offset);
    const std::string prefix = "layer" + std::to_string(l) + "." + cell.type() + ".";
    std::optional<std::size_t> w_h;  // its index in views_
    std::int64_t o = offset;
    for (const auto& p : cell.params()) {
      if (p.name == kRecurrentWeights) w_h = views_.size();
      views_.push_back({prefix + p.name, o, p.numel(), p.dims});
      o += p.numel();
    }
    if (config_.weight_drop > 0) {
      if (!w_h)
        throw error("weight drop needs each layer's recurrent weights, but cell '" + cell.type() +
                        "' declares no tensor named w_h",
                    "train it without --weight-drop, or name its recurrent weights w_h");
      recurrent_view_.push_back(*w_h);
    }
    if (o - offset != cell.param_count())
      throw error("cell '" + cell.type() + "' declares tensors of " + std::to_string(o - offset) +
                  " floats but a parameter buffer of " + std::to_string(cell.param_count()));
    offset = o;
  }
  out_w_offset_ = offset;
  views_.push_back({"out.w", offset, H * V, {H, V}});
  offset += H * V;
  out_b_offset_ = offset;
  views_.push_back({"out.b", offset, V, {V}});
  offset += V;
  params_.assign(static_cast<std::size_t>(offset), 0.0f);
  grads_.assign(static_cast<std::size_t>(offset), 0.0f);
  impl_ = std::make_unique<Impl>(H, V);
}

Model::~Model() = default;

const ParamView& Model::view(const std::string& name) const {
  for (const auto& v : views_)
    if (v.name == name) return v;
  throw error("the model has no parameter tensor '" + name + "'");
}

void Model::init_params(std::uint64_t seed) {
  release_inference();  // the prepared copies would go stale
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    auto span =
        std::span<float>(params_).subspan(static_cast<std::size_t>(layer_offset_[l]),
                                          static_cast<std::size_t>(layers_[l].param_count()));
    layers_[l].init_params(span, splitmix64(seed + 0x1000 * (l + 1)));
  }
  // PyTorch's nn.Linear default: U(-1/sqrt(H), 1/sqrt(H)) for the weights; bias 0.
  const float bound = 1.0f / std::sqrt(static_cast<float>(config_.hidden));
  std::uint64_t s = splitmix64(seed ^ 0x6f75742e77ull);
  for (std::int64_t i = 0; i < config_.hidden * config_.vocab_size; ++i) {
    s = splitmix64(s);
    params_[static_cast<std::size_t>(out_w_offset_ + i)] = (2.0f * unit_float(s) - 1.0f) * bound;
  }
  std::fill_n(params_.begin() + out_b_offset_, config_.vocab_size, 0.0f);
}

Model::State Model::zero_state(std::int64_t N) const {
  State st;
  st.N = N;
  for (const auto& cell : layers_)
    st.layers.emplace_back(static_cast<std::size_t>(cell.states().size() * N * config_.hidden),
                           0.0f);
  return st;
}

void Model::check_state(const State& state, const char* what) const {
  bool ok = state.N >= 1 && state.layers.size() == layers_.size();
  for (std::size_t l = 0; ok && l < layers_.size(); ++l)
    ok = static_cast<std::int64_t>(state.layers[l].size()) ==
         static_cast<std::int64_t>(layers_[l].states().size()) * state.N * config_.hidden;
  if (!ok)
    throw error(std::string(what) +
                ": the state does not match the model (make it with zero_state)");
}

namespace {

// logits: whether an output layer follows (not for advance()).
void prepare(detail::SequenceBuffers& s, const std::vector<Cell>& layers, std::int64_t T,
             std::int64_t N, std::int64_t H, std::int64_t V, bool training, bool dropout,
             bool logits = true) {
  if (s.T == T && s.N == N) return;
  s = detail::SequenceBuffers{};
  s.T = T;
  s.N = N;
  const std::size_t L = layers.size(), tnh = static_cast<std::size_t>(T * N * H);
  // A layer 0 that takes its one-hot input by index needs no (T, N, V) matrix: for a vocabulary
  // of thousands of units that matrix is tens of MB, and the products with it most of the step.
  if (!layers.front().index_input()) s.x0.assign(static_cast<std::size_t>(T * N * V), 0.0f);
  s.dst.assign(L, std::vector<float>(tnh));
  if (dropout && training) {
    s.dropped.assign(L, std::vector<float>(tnh));
    s.mask.assign(L, std::vector<float>(tnh));
  }
  for (const auto& c : layers) s.state_in.emplace_back(c.states().size() * N * H);
  if (logits) s.logits.assign(static_cast<std::size_t>(T * N * V), 0.0f);
  if (training) {
    s.ddst.assign(tnh, 0.0f);
    s.dsrc.assign(tnh, 0.0f);
  }
}

void fill_one_hot(std::span<const std::int32_t> ids, std::int64_t V, float* out) {
  std::memset(out, 0, sizeof(float) * ids.size() * static_cast<std::size_t>(V));
  for (std::size_t r = 0; r < ids.size(); ++r) out[r * static_cast<std::size_t>(V) + ids[r]] = 1.0f;
}

// n elements of an inverted-dropout mask: mask[i] = 0 with probability p (drawn from
// splitmix64(at + i)), else keep; out[i] = in[i] * mask[i]. Cloned per ISA because the baseline
// build runs splitmix64's 64-bit products one element at a time (dropout took 6.7% of a
// GRU training step); every clone computes the same bits.
__attribute__((target_clones("arch=x86-64-v4", "avx2", "default"))) void mask_span(
    const float* __restrict in, float* __restrict out, float* __restrict mask, std::int64_t n,
    std::uint64_t at, float p, float keep) {
  for (std::int64_t i = 0; i < n; ++i) {
    const float m = unit_float(splitmix64(at + static_cast<std::uint64_t>(i))) < p ? 0.0f : keep;
    mask[i] = m;
    out[i] = in[i] * m;
  }
}

// Inverted dropout over (T, N, H): out = in * mask, mask = 0 with probability p, else 1/(1-p).
// The mask is a pure function of (seed, the element's index in the whole batch's (T, total, H)),
// so the same seed always drops the same units, however the batch's streams are shared out. A
// segment mask draws as if every step were the first.
void dropout_forward(const float* in, float* out, float* mask, std::int64_t T, std::int64_t N,
                     std::int64_t H, float p, DropoutMask kind, std::uint64_t seed,
                     Model::Streams streams) {
  const float keep = 1.0f / (1.0f - p);
  const std::int64_t total = streams.total > 0 ? streams.total : N;
  const std::int64_t per_step = kind == DropoutMask::step ? 1 : 0;
#pragma omp parallel for schedule(static)
  for (std::int64_t row = 0; row < T * N; ++row) {
    const std::int64_t t = row / N * per_step, n = row % N;
    const std::uint64_t at = static_cast<std::uint64_t>((t * total + streams.first + n) * H);
    const std::int64_t i0 = row * H;
    mask_span(in + i0, out + i0, mask + i0, H, seed + at, p, keep);
  }
}

// d[i] *= mask[i]: a loss gradient taken back through an inverted-dropout mask.
void scale_by_mask(float* d, const float* mask, std::int64_t n) {
#pragma omp parallel for simd schedule(static)
  for (std::int64_t i = 0; i < n; ++i) d[i] *= mask[i];
}

// DropConnect: out = the layer's n params with the n_h weights at `at` (its w_h) masked, mask[i]
// = 0 with probability p, else 1/(1-p), a pure function of (seed, i) like dropout's. The mask is
// kept for the backward pass, whose w_h gradient it scales.
void drop_weights(const float* params, std::int64_t n, std::int64_t at, std::int64_t n_h, float p,
                  std::uint64_t seed, std::vector<float>& out, std::vector<float>& mask) {
  out.resize(static_cast<std::size_t>(n));  // the same sizes every step: allocated once
  mask.resize(static_cast<std::size_t>(n_h));
  std::copy(params, params + at, out.begin());
  std::copy(params + at + n_h, params + n, out.begin() + at + n_h);
  const float keep = 1.0f / (1.0f - p);
  constexpr std::int64_t kChunk = 1 << 14;
#pragma omp parallel for schedule(static)
  for (std::int64_t c = 0; c < n_h; c += kChunk)
    mask_span(params + at + c, out.data() + at + c, mask.data() + c, std::min(kChunk, n_h - c),
              seed + static_cast<std::uint64_t>(c), p, keep);
}

// inputs and targets of a sequence pass: (T, N) ids each, inside the vocabulary.
void check_segment(std::span<const std::int32_t> inputs, std::span<const std::int32_t> targets,
                   std::int64_t T, std::int64_t N, std::int64_t V, const char* what) {
  if (T < 1 || static_cast<std::int64_t>(inputs.size()) != T * N ||
      static_cast<std::int64_t>(targets.size()) != T * N)
    throw error(std::string(what) +
                ": inputs and targets must each hold T*N = " + std::to_string(T * N) + " ids");
  check_ids(inputs, V, what);
  check_ids(targets, V, what);
}

// Layer l over one segment: src (T*N, I) -> s.dst[l] (T*N, H). The carried state (S, N, H) is
// copied to s.state_in[l] (backward needs it) and replaced by the final state.
void layer_forward(Cell& cell, const float* params, detail::SequenceBuffers& s, std::size_t l,
                   const float* src, const std::int32_t* src_index, std::vector<float>& carried,
                   std::int64_t T, std::int64_t N, bool training) {
  s.state_in[l] = carried;  // same size: a copy, no allocation
  charnn_forward_args a{};
  a.T = T;
  a.N = N;
  a.params = params;
  a.src = src;
  a.src_index = src_index;
  a.state_in = s.state_in[l].data();
  a.dst = s.dst[l].data();
  a.state_out = carried.data();
  a.training = training ? 1 : 0;
  cell.forward(a);
}

}  // namespace

void detail::check_ids(std::span<const std::int32_t> ids, std::int64_t V, const char* what) {
  for (auto id : ids)
    if (id < 0 || id >= V)
      throw error(std::string(what) + ": unit id " + std::to_string(id) +
                  " is outside the vocabulary (size " + std::to_string(V) + ")");
}

double Model::train_step(std::span<const std::int32_t> inputs,
                         std::span<const std::int32_t> targets, std::int64_t T, State& state,
                         std::uint64_t dropout_seed, Streams streams) {
  check_state(state, "train_step");
  check_segment(inputs, targets, T, state.N, config_.vocab_size, "train_step");
  std::fill(grads_.begin(), grads_.end(), 0.0f);  // cells accumulate into their slice
  detail::SequenceBuffers& s = impl_->train;
  const float* y = forward_layers(s, inputs, state, T, true, dropout_seed, true, streams);
  // The output layer leaves d loss / d y in s.ddst, where backward_layers starts.
  const double loss = impl_->out.train(
      y, params_.data() + out_w_offset_, params_.data() + out_b_offset_, targets, s.logits.data(),
      grads_.data() + out_w_offset_, grads_.data() + out_b_offset_, s.ddst.data());
  backward_layers(s, T, state.N);
  return loss;
}

const float* Model::forward_layers(detail::SequenceBuffers& s, std::span<const std::int32_t> inputs,
                                   State& state, std::int64_t T, bool training,
                                   std::uint64_t dropout_seed, bool logits, Streams streams) {
  const std::int64_t N = state.N, H = config_.hidden, V = config_.vocab_size;
  const float p = config_.dropout;
  const bool drop = training && p > 0.0f;
  prepare(s, layers_, T, N, H, V, training, drop, logits);
  const bool drop_weights_now = training && config_.weight_drop > 0.0f;
  if (drop_weights_now) {
    s.dropped_params.resize(layers_.size());
    s.weight_mask.resize(layers_.size());
  }
  const bool by_index = layers_.front().index_input();
  s.x0_index = by_index ? inputs.data() : nullptr;
  if (!by_index) fill_one_hot(inputs, V, s.x0.data());
  const float* src = by_index ? nullptr : s.x0.data();
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const float* params = params_.data() + layer_offset_[l];
    if (drop_weights_now) {
      const ParamView& w_h = views_[recurrent_view_[l]];
      drop_weights(params, layers_[l].param_count(), w_h.offset - layer_offset_[l], w_h.size,
                   config_.weight_drop,
                   splitmix64(dropout_seed ^ (0xd1b54a32d192ed03ull * (l + 1))),
                   s.dropped_params[l], s.weight_mask[l]);
      params = s.dropped_params[l].data();
    }
    layer_forward(layers_[l], params, s, l, src, l == 0 ? s.x0_index : nullptr, state.layers[l], T,
                  N, training);
    src = s.dst[l].data();
    if (drop) {
      dropout_forward(s.dst[l].data(), s.dropped[l].data(), s.mask[l].data(), T, N, H, p,
                      config_.dropout_mask,
                      splitmix64(dropout_seed ^ (0x9e3779b97f4a7c15ull * (l + 1))), streams);
      src = s.dropped[l].data();
    }
  }
  return src;
}

void Model::backward_layers(detail::SequenceBuffers& s, std::int64_t T, std::int64_t N) {
  const bool drop = !s.mask.empty(), dropped_weights = !s.dropped_params.empty();
  const std::int64_t tnh = T * N * config_.hidden;
  // ddst holds d loss / d dst[l] (after undoing dropout).
  for (std::size_t li = layers_.size(); li-- > 0;) {
    if (drop) scale_by_mask(s.ddst.data(), s.mask[li].data(), tnh);
    charnn_backward_args a{};
    a.T = T;
    a.N = N;
    a.params = dropped_weights ? s.dropped_params[li].data() : params_.data() + layer_offset_[li];
    a.src = li == 0 ? (s.x0_index ? nullptr : s.x0.data())
                    : (drop ? s.dropped[li - 1].data() : s.dst[li - 1].data());
    a.src_index = li == 0 ? s.x0_index : nullptr;
    a.state_in = s.state_in[li].data();
    a.dst = s.dst[li].data();
    a.diff_dst = s.ddst.data();
    a.diff_state_out = nullptr;  // truncated BPTT: nothing flows back from the next segment
    a.diff_src = li == 0 ? nullptr : s.dsrc.data();
    a.diff_params = grads_.data() + layer_offset_[li];
    a.diff_state_in = nullptr;
    layers_[li].backward(a);
    if (dropped_weights) {  // d loss / d w_h = d loss / d (masked w_h) x mask
      const ParamView& w_h = views_[recurrent_view_[li]];
      scale_by_mask(grads_.data() + w_h.offset, s.weight_mask[li].data(), w_h.size);
    }
    if (li > 0) std::swap(s.ddst, s.dsrc);
  }
}

double Model::evaluate(std::span<const std::int32_t> inputs, std::span<const std::int32_t> targets,
                       std::int64_t T, State& state) {
  check_state(state, "evaluate");
  check_segment(inputs, targets, T, state.N, config_.vocab_size, "evaluate");
  detail::SequenceBuffers& s = impl_->eval;
  const float* y = forward_layers(s, inputs, state, T, false, 0);  // (T*N, H)
  return impl_->out.loss(y, params_.data() + out_w_offset_, params_.data() + out_b_offset_, targets,
                         s.logits.data());
}

std::string Model::set_train_precision(StepPrecision precision) {
  // automatic asks for bf16 too: the plugins refuse it where the CPU does not run it natively.
  const bool want_bf16 = precision == StepPrecision::bf16 || precision == StepPrecision::automatic;
  std::size_t bf16 = 0;
  for (auto& layer : layers_) {
    if (want_bf16 && layer.set_train_precision(CHARNN_PRECISION_BF16))
      ++bf16;
    else
      layer.set_train_precision(CHARNN_PRECISION_F32);  // every cell trains in f32
  }
  const std::size_t L = layers_.size();
  // A cell takes bf16 only where the CPU runs it natively; the output layer follows.
  impl_->out.set_train_bf16(bf16 > 0);
  if (bf16 == 0) return "f32";
  if (bf16 == L) return "bf16";
  return "bf16 (" + std::to_string(bf16) + " of " + std::to_string(L) + " layers; others f32)";
}

void Model::advance(std::span<const std::int32_t> ids, std::int64_t T, State& state) {
  check_state(state, "advance");
  if (T < 1 || static_cast<std::int64_t>(ids.size()) != T * state.N)
    throw error("advance: ids must hold T*N = " + std::to_string(T * state.N) + " ids");
  check_ids(ids, config_.vocab_size, "advance");
  forward_layers(impl_->advance, ids, state, T, false, 0, false);
}

const Model::TraceOutput& Model::trace(std::span<const std::int32_t> ids, std::int64_t T,
                                       State& state, bool signals) {
  check_state(state, "trace");
  const std::int64_t N = state.N, H = config_.hidden, V = config_.vocab_size;
  if (T < 1 || static_cast<std::int64_t>(ids.size()) != T * N)
    throw error("trace: ids must hold T*N = " + std::to_string(T * N) + " ids");
  check_ids(ids, V, "trace");
  Impl& im = *impl_;
  TraceOutput& out = im.trace_out;
  if (!signals) {
    detail::SequenceBuffers& s = im.score;
    const float* y = forward_layers(s, ids, state, T, false, 0);
    im.out.forward(y, params_.data() + out_w_offset_, params_.data() + out_b_offset_,
                   s.logits.data(), T * N);
    out.signals.resize(layers_.size());
    for (auto& layer : out.signals) layer.clear();  // keeps capacity: no allocation per pass
    out.logits = std::span<const float>(s.logits.data(), static_cast<std::size_t>(T * N * V));
    return out;
  }
  if (im.trace_T != T || im.trace_N != N) {
    im.trace_T = T;
    im.trace_N = N;
    const auto tn = static_cast<std::size_t>(T * N);
    if (!layers_.front().trace_index_input())
      im.trace_x0.assign(tn * static_cast<std::size_t>(V), 0.0f);
    im.trace_dst.assign(layers_.size(), std::vector<float>(tn * static_cast<std::size_t>(H)));
    im.trace_signals.clear();
    im.trace_state.clear();
    for (const auto& c : layers_) {
      im.trace_signals.emplace_back(c.signals().size() * tn * static_cast<std::size_t>(H));
      im.trace_state.emplace_back(c.states().size() * static_cast<std::size_t>(N * H));
    }
    im.trace_logits.assign(tn * static_cast<std::size_t>(V), 0.0f);
  }
  out.signals.resize(layers_.size());
  const bool by_index = layers_.front().trace_index_input();
  if (!by_index) fill_one_hot(ids, V, im.trace_x0.data());
  const float* src = by_index ? nullptr : im.trace_x0.data();
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    charnn_trace_args a{};
    a.T = T;
    a.N = N;
    a.params = params_.data() + layer_offset_[l];
    a.src = src;
    if (l == 0 && by_index) a.src_index = ids.data();
    a.state_in = state.layers[l].data();
    a.dst = im.trace_dst[l].data();
    a.state_out = im.trace_state[l].data();
    a.signals = im.trace_signals[l].data();
    layers_[l].trace(a);
    std::copy(im.trace_state[l].begin(), im.trace_state[l].end(), state.layers[l].begin());
    src = im.trace_dst[l].data();
    const std::size_t K = layers_[l].signals().size(), TNH = static_cast<std::size_t>(T * N * H);
    out.signals[l].clear();
    for (std::size_t k = 0; k < K; ++k)
      out.signals[l].emplace_back(im.trace_signals[l].data() + k * TNH, TNH);
  }
  im.out.forward(src, params_.data() + out_w_offset_, params_.data() + out_b_offset_,
                 im.trace_logits.data(), T * N);
  out.logits = std::span<const float>(im.trace_logits.data(), static_cast<std::size_t>(T * N * V));
  return out;
}

}  // namespace charnn
