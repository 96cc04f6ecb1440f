// The model: cell layers from plugins, dropout, and a oneDNN linear + softmax cross-entropy
// output. Layout of the flat parameter buffer: layer 0's cell tensors, layer 1's, ..., then
// out.w (H, V) and out.b (V). All per-shape objects (oneDNN matmuls, scratch buffers) are made
// on the first call with a shape and reused, so a training step allocates nothing after warm-up.
#include "charnn/model.hpp"
#include "util.hpp"

#include <charnn/error.hpp>
#include <charnn/plugin_registry.hpp>

#include <omp.h>
#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>

namespace charnn {

namespace {

using detail::splitmix64;

// Uniform in [0, 1) from the top 24 bits: exactly representable in float.
inline float unit_float(std::uint64_t bits) {
  return static_cast<float>(bits >> 40) * (1.0f / 16777216.0f);
}

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

dnnl::memory::desc plain(dnnl::memory::dims dims) {
  return {dims, dt::f32, tag::ab};
}
dnnl::memory::desc strided(dnnl::memory::dims dims, dnnl::memory::dims strides) {
  return {dims, dt::f32, strides};
}

// logits (N, V) = y (N, H) . w (H, V) + b (V), row-major, for a few rows: the output layer of
// one sampling step. oneDNN's sgemm instead of the matmul primitive: for ~50k multiply-adds the
// primitive's dispatch and OpenMP team synchronisation dominated (~3 ms per step on a busy
// 2-core machine, bench/RESULTS.md "sampling"), while sgemm keeps a problem this small on the
// calling thread.
void small_linear(const float* y, const float* w, const float* b, float* logits, std::int64_t N,
                  std::int64_t H, std::int64_t V) {
  for (std::int64_t n = 0; n < N; ++n)
    std::memcpy(logits + n * V, b, static_cast<std::size_t>(V) * sizeof(float));
  if (dnnl_sgemm('N', 'N', N, V, H, 1.0f, y, H, w, V, 1.0f, logits, V) != dnnl_success)
    throw error("the output layer's sgemm failed in oneDNN");
}

// Up to this many streams step() computes the output layer with small_linear.
constexpr std::int64_t kSmallStepN = 8;

// Runs the enclosed oneDNN calls on the calling thread only. For ~50k multiply-adds a parallel
// region costs more than the work, and on a busy machine waking the other OpenMP thread took
// 3-12 ms per step (bench/RESULTS.md). omp_set_num_threads only changes the calling thread's
// setting, so this is safe to nest and to use from any thread.
class OneThread {
 public:
  OneThread() : saved_(omp_get_max_threads()) {
    if (saved_ != 1) omp_set_num_threads(1);
  }
  ~OneThread() {
    if (saved_ != 1) omp_set_num_threads(saved_);
  }
  OneThread(const OneThread&) = delete;
  OneThread& operator=(const OneThread&) = delete;

 private:
  int saved_;
};

}  // namespace

// The output layer for M rows: logits (M, V) = y (M, H) x out.w (H, V) + out.b, and its two
// backward products. Each matmul has its own user-owned scratchpad so executing allocates nothing.
struct Linear {
  struct Op {
    dnnl::matmul prim;
    dnnl::memory scratch;
  };
  Op fwd, bwd_w, bwd_d;
  dnnl::memory y, w, b, logits;  // (M,H) (H,V) (1,V) (M,V)
  dnnl::memory yT, dlogits, dw;  // (H,M) view of y, (M,V), (H,V)
  dnnl::memory wT, dy;           // (V,H) view of out.w, (M,H)

  Linear(const dnnl::engine& eng, std::int64_t M, std::int64_t H, std::int64_t V) {
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    auto make = [&](const dnnl::memory::desc& s, const dnnl::memory::desc& w_md,
                    const dnnl::memory::desc* bias, const dnnl::memory::desc& d) {
      auto desc = bias ? dnnl::matmul::desc(s, w_md, *bias, d) : dnnl::matmul::desc(s, w_md, d);
      dnnl::matmul::primitive_desc pd(desc, attr, eng);
      return Op{dnnl::matmul(pd), dnnl::memory(pd.scratchpad_desc(), eng)};
    };
    const auto y_md = plain({M, H}), w_md = plain({H, V}), b_md = plain({1, V}),
               l_md = plain({M, V});
    const auto yT_md = strided({H, M}, {1, H}), wT_md = strided({V, H}, {1, V});
    fwd = make(y_md, w_md, &b_md, l_md);
    bwd_w = make(yT_md, l_md, nullptr, w_md);
    bwd_d = make(l_md, wT_md, nullptr, y_md);
    y = dnnl::memory(y_md, eng, DNNL_MEMORY_NONE);
    w = dnnl::memory(w_md, eng, DNNL_MEMORY_NONE);
    b = dnnl::memory(b_md, eng, DNNL_MEMORY_NONE);
    logits = dnnl::memory(l_md, eng, DNNL_MEMORY_NONE);
    yT = dnnl::memory(yT_md, eng, DNNL_MEMORY_NONE);
    dlogits = dnnl::memory(l_md, eng, DNNL_MEMORY_NONE);
    dw = dnnl::memory(w_md, eng, DNNL_MEMORY_NONE);
    wT = dnnl::memory(wT_md, eng, DNNL_MEMORY_NONE);
    dy = dnnl::memory(y_md, eng, DNNL_MEMORY_NONE);
  }
};

// Buffers for one (T, N) shape of a sequence pass (training or evaluation).
struct Scratch {
  std::int64_t T = 0, N = 0;
  std::vector<float> x0;                     // (T, N, V) one-hot input of layer 0
  std::vector<std::vector<float>> dst;       // [l] (T, N, H) what layer l wrote
  std::vector<std::vector<float>> dropped;   // [l] (T, N, H) dropout(dst[l]): input of l+1 / out
  std::vector<std::vector<float>> mask;      // [l] (T, N, H) 0 or 1/(1-p), training only
  std::vector<std::vector<float>> state_in;  // [l] (S_l, N, H) the state the segment began with
  std::vector<float> logits;                 // (T*N, V), then d(loss)/d(logits) in place
  std::vector<float> ddst, dsrc;             // (T, N, H) gradient w.r.t. a layer's dst / src
};

struct Model::Impl {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream strm{eng};
  std::map<std::int64_t, std::unique_ptr<Linear>> linears;  // by row count M
  Scratch train, eval;
  // step(): (N, H) per layer; trace(): per-chunk buffers.
  std::int64_t step_N = 0;
  std::vector<std::vector<float>> step_dst;  // [l] (N, H)
  std::int64_t trace_T = 0;
  std::vector<float> trace_x0;                    // (T, V)
  std::vector<std::vector<float>> trace_dst;      // [l] (T, H)
  std::vector<std::vector<float>> trace_signals;  // [l] (K_l, T, H)
  std::vector<std::vector<float>> trace_state;    // [l] (S_l, H) state_out before copy-back
  std::vector<float> trace_logits;                // (T, V)

  Linear& linear(std::int64_t M, std::int64_t H, std::int64_t V) {
    auto it = linears.find(M);
    if (it == linears.end()) it = linears.emplace(M, std::make_unique<Linear>(eng, M, H, V)).first;
    return *it->second;
  }
};

Model::Model(ModelConfig config, const PluginRegistry& plugins)
    : config_(std::move(config)), impl_(std::make_unique<Impl>()) {
  if (config_.cells.empty()) throw error("a model needs at least one layer (--cell / --layers)");
  if (config_.hidden < 1)
    throw error("hidden size must be at least 1 (got " + std::to_string(config_.hidden) + ")");
  if (config_.vocab_size < 1) throw error("a model needs a vocabulary of at least 1 unit");
  if (!(config_.dropout >= 0.0f && config_.dropout < 1.0f))
    throw error("dropout must be in [0, 1) (got " + std::to_string(config_.dropout) + ")");
  const std::int64_t H = config_.hidden, V = config_.vocab_size;
  std::int64_t offset = 0;
  for (std::size_t l = 0; l < config_.cells.size(); ++l) {
    layers_.push_back(plugins.create_cell(config_.cells[l], l == 0 ? V : H, H));
    const Cell& cell = layers_.back();
    layer_offset_.push_back(offset);
    std::int64_t o = offset;
    for (const auto& p : cell.params()) {
      views_.push_back(
          {"layer" + std::to_string(l) + "." + cell.type() + "." + p.name, o, p.numel(), p.dims});
      o += p.numel();
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

void prepare(Scratch& s, const std::vector<Cell>& layers, std::int64_t T, std::int64_t N,
             std::int64_t H, std::int64_t V, bool training, bool dropout) {
  if (s.T == T && s.N == N) return;
  s = Scratch{};
  s.T = T;
  s.N = N;
  const std::size_t L = layers.size(), tnh = static_cast<std::size_t>(T * N * H);
  s.x0.assign(static_cast<std::size_t>(T * N * V), 0.0f);
  s.dst.assign(L, std::vector<float>(tnh));
  if (dropout && training) {
    s.dropped.assign(L, std::vector<float>(tnh));
    s.mask.assign(L, std::vector<float>(tnh));
  }
  for (const auto& c : layers) s.state_in.emplace_back(c.states().size() * N * H);
  s.logits.assign(static_cast<std::size_t>(T * N * V), 0.0f);
  if (training) {
    s.ddst.assign(tnh, 0.0f);
    s.dsrc.assign(tnh, 0.0f);
  }
}

void fill_one_hot(std::span<const std::int32_t> ids, std::int64_t V, float* out) {
  std::memset(out, 0, sizeof(float) * ids.size() * static_cast<std::size_t>(V));
  for (std::size_t r = 0; r < ids.size(); ++r) out[r * static_cast<std::size_t>(V) + ids[r]] = 1.0f;
}

// Inverted dropout: out = in * mask, mask = 0 with probability p, else 1/(1-p). The mask is a
// pure function of (seed, element), so the same seed always drops the same units.
void dropout_forward(const float* in, float* out, float* mask, std::int64_t n, float p,
                     std::uint64_t seed) {
  const float keep = 1.0f / (1.0f - p);
#pragma omp parallel for simd schedule(static)
  for (std::int64_t i = 0; i < n; ++i) {
    const float m = unit_float(splitmix64(seed + static_cast<std::uint64_t>(i))) < p ? 0.0f : keep;
    mask[i] = m;
    out[i] = in[i] * m;
  }
}

// Log-softmax cross-entropy per row, numerically stable (max subtracted before exp).
// logits is overwritten: with grad_scale * (softmax - onehot(target)) when grad_scale != 0
// (the gradient of grad_scale * loss), else with unnormalised exps. Returns the summed loss in
// nats; NaN logits propagate into it, which is what the trainer's divergence guard checks.
double softmax_xent(float* logits, std::span<const std::int32_t> targets, std::int64_t V,
                    double grad_scale) {
  const std::int64_t rows = static_cast<std::int64_t>(targets.size());
  double total = 0.0;
  const float scale = static_cast<float>(grad_scale);
#pragma omp parallel for reduction(+ : total) schedule(static)
  for (std::int64_t r = 0; r < rows; ++r) {
    float* x = logits + r * V;
    const std::int32_t y = targets[static_cast<std::size_t>(r)];
    float mx = x[0];
    for (std::int64_t v = 1; v < V; ++v) mx = std::max(mx, x[v]);
    const float xy = x[y];
    // Each term is in (0, 1] and there are at most a few thousand, so a float sum is exact
    // enough; the log is taken in double.
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (std::int64_t v = 0; v < V; ++v) {
      const float e = std::exp(x[v] - mx);
      x[v] = e;
      sum += e;
    }
    total += static_cast<double>(mx) + std::log(static_cast<double>(sum)) - static_cast<double>(xy);
    if (scale != 0.0f) {
      const float k = scale / sum;
#pragma omp simd
      for (std::int64_t v = 0; v < V; ++v) x[v] *= k;
      x[y] -= scale;
    }
  }
  return total;
}

void check_ids(std::span<const std::int32_t> ids, std::int64_t V, const char* what) {
  for (auto id : ids)
    if (id < 0 || id >= V)
      throw error(std::string(what) + ": unit id " + std::to_string(id) +
                  " is outside the vocabulary (size " + std::to_string(V) + ")");
}

// Layer l over one segment: src (T*N, I) -> s.dst[l] (T*N, H). The carried state (S, N, H) is
// copied to s.state_in[l] (backward needs it) and replaced by the final state.
void layer_forward(Cell& cell, const float* params, Scratch& s, std::size_t l, const float* src,
                   std::vector<float>& carried, std::int64_t T, std::int64_t N, bool training) {
  s.state_in[l] = carried;  // same size: a copy, no allocation
  charnn_forward_args a{};
  a.T = T;
  a.N = N;
  a.params = params;
  a.src = src;
  a.state_in = s.state_in[l].data();
  a.dst = s.dst[l].data();
  a.state_out = carried.data();
  a.training = training ? 1 : 0;
  cell.forward(a);
}

}  // namespace

double Model::train_step(std::span<const std::int32_t> inputs,
                         std::span<const std::int32_t> targets, std::int64_t T, State& state,
                         std::uint64_t dropout_seed) {
  check_state(state, "train_step");
  const std::int64_t N = state.N, H = config_.hidden, V = config_.vocab_size;
  const std::size_t L = layers_.size();
  if (T < 1 || static_cast<std::int64_t>(inputs.size()) != T * N ||
      static_cast<std::int64_t>(targets.size()) != T * N)
    throw error("train_step: inputs and targets must each hold T*N = " + std::to_string(T * N) +
                " ids");
  check_ids(inputs, V, "train_step");
  check_ids(targets, V, "train_step");
  const float p = config_.dropout;
  const bool drop = p > 0.0f;
  Scratch& s = impl_->train;
  prepare(s, layers_, T, N, H, V, true, drop);
  const std::int64_t tnh = T * N * H;
  std::fill(grads_.begin(), grads_.end(), 0.0f);  // cells accumulate into their slice

  // Forward through the stack.
  fill_one_hot(inputs, V, s.x0.data());
  const float* src = s.x0.data();
  for (std::size_t l = 0; l < L; ++l) {
    layer_forward(layers_[l], params_.data() + layer_offset_[l], s, l, src, state.layers[l], T, N,
                  true);
    if (drop) {
      dropout_forward(s.dst[l].data(), s.dropped[l].data(), s.mask[l].data(), tnh, p,
                      splitmix64(dropout_seed ^ (0x9e3779b97f4a7c15ull * (l + 1))));
      src = s.dropped[l].data();
    } else {
      src = s.dst[l].data();
    }
  }
  float* y = const_cast<float*>(src);  // (T*N, H) input of the output layer

  Linear& lin = impl_->linear(T * N, H, V);
  float* w = params_.data() + out_w_offset_;
  float* b = params_.data() + out_b_offset_;
  lin.y.set_data_handle(y);
  lin.w.set_data_handle(w);
  lin.b.set_data_handle(b);
  lin.logits.set_data_handle(s.logits.data());
  lin.fwd.prim.execute(impl_->strm, {{DNNL_ARG_SRC, lin.y},
                                     {DNNL_ARG_WEIGHTS, lin.w},
                                     {DNNL_ARG_BIAS, lin.b},
                                     {DNNL_ARG_DST, lin.logits},
                                     {DNNL_ARG_SCRATCHPAD, lin.fwd.scratch}});
  impl_->strm.wait();

  const double rows = static_cast<double>(T * N);
  const double loss = softmax_xent(s.logits.data(), targets, V, 1.0 / rows) / rows;

  // Output layer backward: d out.w = y^T dlogits, d out.b = column sums, dy = dlogits out.w^T.
  lin.yT.set_data_handle(y);
  lin.dlogits.set_data_handle(s.logits.data());
  lin.dw.set_data_handle(grads_.data() + out_w_offset_);
  lin.bwd_w.prim.execute(impl_->strm, {{DNNL_ARG_SRC, lin.yT},
                                       {DNNL_ARG_WEIGHTS, lin.dlogits},
                                       {DNNL_ARG_DST, lin.dw},
                                       {DNNL_ARG_SCRATCHPAD, lin.bwd_w.scratch}});
  lin.wT.set_data_handle(w);
  lin.dy.set_data_handle(s.ddst.data());
  lin.bwd_d.prim.execute(impl_->strm, {{DNNL_ARG_SRC, lin.dlogits},
                                       {DNNL_ARG_WEIGHTS, lin.wT},
                                       {DNNL_ARG_DST, lin.dy},
                                       {DNNL_ARG_SCRATCHPAD, lin.bwd_d.scratch}});
  impl_->strm.wait();
  float* db = grads_.data() + out_b_offset_;
  for (std::int64_t r = 0; r < T * N; ++r) {
    const float* g = s.logits.data() + r * V;
    for (std::int64_t v = 0; v < V; ++v) db[v] += g[v];
  }

  // Backward through the stack: ddst holds d loss / d dst[l] (after undoing dropout).
  for (std::size_t li = L; li-- > 0;) {
    if (drop) {
      const float* m = s.mask[li].data();
      float* d = s.ddst.data();
#pragma omp parallel for simd schedule(static)
      for (std::int64_t i = 0; i < tnh; ++i) d[i] *= m[i];
    }
    charnn_backward_args a{};
    a.T = T;
    a.N = N;
    a.params = params_.data() + layer_offset_[li];
    a.src = li == 0 ? s.x0.data() : (drop ? s.dropped[li - 1].data() : s.dst[li - 1].data());
    a.state_in = s.state_in[li].data();
    a.dst = s.dst[li].data();
    a.diff_dst = s.ddst.data();
    a.diff_state_out = nullptr;  // truncated BPTT: nothing flows back from the next segment
    a.diff_src = li == 0 ? nullptr : s.dsrc.data();
    a.diff_params = grads_.data() + layer_offset_[li];
    a.diff_state_in = nullptr;
    layers_[li].backward(a);
    if (li > 0) std::swap(s.ddst, s.dsrc);
  }
  return loss;
}

double Model::evaluate(std::span<const std::int32_t> inputs, std::span<const std::int32_t> targets,
                       std::int64_t T, State& state) {
  check_state(state, "evaluate");
  const std::int64_t N = state.N, H = config_.hidden, V = config_.vocab_size;
  if (T < 1 || static_cast<std::int64_t>(inputs.size()) != T * N ||
      static_cast<std::int64_t>(targets.size()) != T * N)
    throw error("evaluate: inputs and targets must each hold T*N = " + std::to_string(T * N) +
                " ids");
  check_ids(inputs, V, "evaluate");
  check_ids(targets, V, "evaluate");
  Scratch& s = impl_->eval;
  prepare(s, layers_, T, N, H, V, false, false);
  fill_one_hot(inputs, V, s.x0.data());
  const float* src = s.x0.data();
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    layer_forward(layers_[l], params_.data() + layer_offset_[l], s, l, src, state.layers[l], T, N,
                  false);
    src = s.dst[l].data();
  }
  Linear& lin = impl_->linear(T * N, H, V);
  lin.y.set_data_handle(const_cast<float*>(src));
  lin.w.set_data_handle(params_.data() + out_w_offset_);
  lin.b.set_data_handle(params_.data() + out_b_offset_);
  lin.logits.set_data_handle(s.logits.data());
  lin.fwd.prim.execute(impl_->strm, {{DNNL_ARG_SRC, lin.y},
                                     {DNNL_ARG_WEIGHTS, lin.w},
                                     {DNNL_ARG_BIAS, lin.b},
                                     {DNNL_ARG_DST, lin.logits},
                                     {DNNL_ARG_SCRATCHPAD, lin.fwd.scratch}});
  impl_->strm.wait();
  return softmax_xent(s.logits.data(), targets, V, 0.0);
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
  if (bf16 == 0) return "f32";
  if (bf16 == L) return "bf16";
  return "bf16 (" + std::to_string(bf16) + " of " + std::to_string(L) + " layers; others f32)";
}

std::string Model::prepare_inference(StepPrecision precision) {
  if (precision == StepPrecision::automatic)
    throw error(
        "internal: Model::prepare_inference needs a precision (prepare_step_path chooses one)");
  release_inference();
  prepared_.assign(layers_.size(), StepPrecision::automatic);
  // The wanted precision first, then the next wider one a plugin offers (int8 -> bf16 -> f32).
  std::vector<std::pair<StepPrecision, charnn_precision>> order;
  if (precision == StepPrecision::int8)
    order.push_back({StepPrecision::int8, CHARNN_PRECISION_INT8});
  if (precision != StepPrecision::f32)
    order.push_back({StepPrecision::bf16, CHARNN_PRECISION_BF16});
  order.push_back({StepPrecision::f32, CHARNN_PRECISION_F32});
  try {
    for (std::size_t l = 0; l < layers_.size(); ++l) {
      const float* p = params_.data() + layer_offset_[l];
      for (const auto& [ours, theirs] : order)
        if (layers_[l].prepare_step(p, theirs)) {
          prepared_[l] = ours;
          break;
        }
    }
  } catch (...) {
    release_inference();
    throw;
  }
  // Summary: the precision every layer got, or the mix.
  std::size_t plain = 0;
  std::vector<std::string> kinds;
  for (auto p : prepared_) {
    if (p == StepPrecision::automatic) {
      ++plain;
      continue;
    }
    if (std::find(kinds.begin(), kinds.end(), to_string(p)) == kinds.end())
      kinds.push_back(to_string(p));
  }
  const std::size_t L = layers_.size();
  if (plain == L) return "plain f32 (no layer's plugin has a prepared path)";
  std::string s;
  for (const auto& k : kinds) s += (s.empty() ? "" : "/") + k;
  if (kinds.size() > 1) s += " mixed";
  if (plain > 0)
    s += " (" + std::to_string(L - plain) + " of " + std::to_string(L) + " layers; others plain)";
  return s;
}

void Model::release_inference() {
  if (prepared_.empty()) return;
  for (std::size_t l = 0; l < layers_.size(); ++l)
    if (prepared_[l] != StepPrecision::automatic) layers_[l].release_step();
  prepared_.clear();
}

void Model::step(std::span<const std::int32_t> ids, State& state, float* logits) {
  check_state(state, "step");
  const std::int64_t N = state.N, H = config_.hidden, V = config_.vocab_size;
  if (static_cast<std::int64_t>(ids.size()) != N)
    throw error("step: expected " + std::to_string(N) + " ids, one per stream");
  check_ids(ids, V, "step");
  Impl& im = *impl_;
  if (im.step_N != N) {
    im.step_N = N;
    im.step_dst.assign(layers_.size(), std::vector<float>(static_cast<std::size_t>(N * H)));
  }
  const float* src = nullptr;
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    charnn_step_args a{};
    a.N = N;
    a.params = params_.data() + layer_offset_[l];
    a.src = src;  // layer 0: NULL, the one-hot input is given by index
    a.src_index = l == 0 ? ids.data() : nullptr;
    a.state = state.layers[l].data();
    a.dst = im.step_dst[l].data();
    layers_[l].step(a);
    src = im.step_dst[l].data();
  }
  if (N <= kSmallStepN) {
    const OneThread one_thread;
    small_linear(src, params_.data() + out_w_offset_, params_.data() + out_b_offset_, logits, N, H,
                 V);
    return;
  }
  Linear& lin = im.linear(N, H, V);
  lin.y.set_data_handle(const_cast<float*>(src));
  lin.w.set_data_handle(params_.data() + out_w_offset_);
  lin.b.set_data_handle(params_.data() + out_b_offset_);
  lin.logits.set_data_handle(logits);
  lin.fwd.prim.execute(im.strm, {{DNNL_ARG_SRC, lin.y},
                                 {DNNL_ARG_WEIGHTS, lin.w},
                                 {DNNL_ARG_BIAS, lin.b},
                                 {DNNL_ARG_DST, lin.logits},
                                 {DNNL_ARG_SCRATCHPAD, lin.fwd.scratch}});
  im.strm.wait();
}

void Model::trace(std::span<const std::int32_t> ids, State& state,
                  const std::function<void(const TraceChunk&)>& sink, std::int64_t chunk) {
  check_state(state, "trace");
  if (state.N != 1) throw error("trace: the state must be for one stream (zero_state(1))");
  if (chunk < 1) throw error("trace: chunk must be at least 1");
  check_ids(ids, config_.vocab_size, "trace");
  const std::int64_t H = config_.hidden, V = config_.vocab_size;
  const std::int64_t total = static_cast<std::int64_t>(ids.size());
  Impl& im = *impl_;
  const std::int64_t Tmax = std::min(chunk, std::max<std::int64_t>(total, 1));
  if (im.trace_T < Tmax) {
    im.trace_T = Tmax;
    im.trace_x0.assign(static_cast<std::size_t>(Tmax * V), 0.0f);
    im.trace_dst.assign(layers_.size(), std::vector<float>(static_cast<std::size_t>(Tmax * H)));
    im.trace_signals.clear();
    im.trace_state.clear();
    for (const auto& c : layers_) {
      im.trace_signals.emplace_back(static_cast<std::size_t>(c.signals().size() * Tmax * H));
      im.trace_state.emplace_back(static_cast<std::size_t>(c.states().size() * H));
    }
    im.trace_logits.assign(static_cast<std::size_t>(Tmax * V), 0.0f);
  }
  TraceChunk out;
  out.signals.resize(layers_.size());
  for (std::int64_t begin = 0; begin < total; begin += chunk) {
    const std::int64_t T = std::min(chunk, total - begin);
    fill_one_hot(ids.subspan(static_cast<std::size_t>(begin), static_cast<std::size_t>(T)), V,
                 im.trace_x0.data());
    const float* src = im.trace_x0.data();
    for (std::size_t l = 0; l < layers_.size(); ++l) {
      charnn_trace_args a{};
      a.T = T;
      a.N = 1;
      a.params = params_.data() + layer_offset_[l];
      a.src = src;
      a.state_in = state.layers[l].data();
      a.dst = im.trace_dst[l].data();
      a.state_out = im.trace_state[l].data();
      a.signals = im.trace_signals[l].data();
      layers_[l].trace(a);
      std::copy(im.trace_state[l].begin(), im.trace_state[l].end(), state.layers[l].begin());
      src = im.trace_dst[l].data();
      const std::size_t K = layers_[l].signals().size();
      out.signals[l].clear();
      for (std::size_t k = 0; k < K; ++k)
        out.signals[l].emplace_back(im.trace_signals[l].data() + k * T * H,
                                    static_cast<std::size_t>(T * H));
    }
    Linear& lin = im.linear(T, H, V);
    lin.y.set_data_handle(const_cast<float*>(src));
    lin.w.set_data_handle(params_.data() + out_w_offset_);
    lin.b.set_data_handle(params_.data() + out_b_offset_);
    lin.logits.set_data_handle(im.trace_logits.data());
    lin.fwd.prim.execute(im.strm, {{DNNL_ARG_SRC, lin.y},
                                   {DNNL_ARG_WEIGHTS, lin.w},
                                   {DNNL_ARG_BIAS, lin.b},
                                   {DNNL_ARG_DST, lin.logits},
                                   {DNNL_ARG_SCRATCHPAD, lin.fwd.scratch}});
    im.strm.wait();
    out.begin = begin;
    out.T = T;
    out.logits = std::span<const float>(im.trace_logits.data(), static_cast<std::size_t>(T * V));
    sink(out);
  }
}

}  // namespace charnn
