// The output layer's oneDNN matmuls and the softmax cross-entropy. Its forward matmul runs in
// one place (run_forward) for every pass; only a sampling step with a few rows takes sgemm.
#include "output_layer.hpp"

#include "charnn/error.hpp"
#include "charnn/fast_math.hpp"
#include "charnn/onednn_compat.hpp"
#include "prepared_product.hpp"

#include <omp.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

namespace charnn::detail {

namespace {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

dnnl::memory::desc plain(dnnl::memory::dims dims) {
  return {dims, dt::f32, tag::ab};
}

// oneDNN 3 dropped matmul::desc: the adapter makes every matmul descriptor.
using onednn::make_matmul_pd;

// One matmul with its own scratchpad (user mode, so executing allocates nothing) and its argument
// list, built once. It runs through the C call because the C++ execute() copies its argument map
// into a new vector on every call.
struct Op {
  dnnl::matmul prim;
  dnnl::memory scratch;
  std::array<dnnl_exec_arg_t, 5> args{};
  int nargs = 0;

  Op(const dnnl::engine& eng, const dnnl::memory& src, const dnnl::memory& wei,
     const dnnl::memory* bias, const dnnl::memory& dst) {
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    const dnnl::memory::desc bias_md = bias ? bias->get_desc() : dnnl::memory::desc();
    const auto pd = make_matmul_pd(eng, src.get_desc(), wei.get_desc(), bias ? &bias_md : nullptr,
                                   dst.get_desc(), attr);
    prim = dnnl::matmul(pd);
    scratch = dnnl::memory(pd.scratchpad_desc(), eng);
    add(DNNL_ARG_SRC, src);
    add(DNNL_ARG_WEIGHTS, wei);
    if (bias) add(DNNL_ARG_BIAS, *bias);
    add(DNNL_ARG_DST, dst);
    add(DNNL_ARG_SCRATCHPAD, scratch);
  }
  // The memory objects outlive the Op (they sit beside it in Shape); their data handles are set
  // before each run.
  void add(int arg, const dnnl::memory& m) {
    args[static_cast<std::size_t>(nargs++)] = {arg, m.get()};
  }
  void run(const dnnl::stream& strm) const {
    dnnl::error::wrap_c_api(dnnl_primitive_execute(prim.get(), strm.get(), nargs, args.data()),
                            "the output layer's matmul failed in oneDNN");
  }
};

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

// Above this many multiply-adds per row a sampling step's output layer is worth every thread
// (a 512 x 6,173 layer, Chinese, on one thread was most of the step while the other thread
// spun) and a bf16 copy of its weights (prepare_step): one stream of a 2x512 GRU sampled 34k
// units/s with 520 units and 24k with 1,000 on one thread in f32, 43k and 36k with both.
constexpr std::int64_t kOneThreadMacs = 1 << 18;

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

// Log-softmax cross-entropy per row, numerically stable (max subtracted before exp).
// logits is overwritten: with grad_scale * (softmax - onehot(target)) when grad_scale != 0
// (the gradient of grad_scale * loss), else with unnormalised exps; grad16, when given, gets the
// gradient rounded to bfloat16 as well. Returns the summed loss in nats; NaN logits propagate into
// it, which is what the trainer's divergence guard checks. fast_exp, not std::exp: over thousands
// of units the scalar exp took half of the softmax's time.
double softmax_xent(float* logits, std::span<const std::int32_t> targets, std::int64_t V,
                    double grad_scale, std::uint16_t* grad16 = nullptr) {
  const std::int64_t rows = static_cast<std::int64_t>(targets.size());
  double total = 0.0;
  const float scale = static_cast<float>(grad_scale);
#pragma omp parallel for reduction(+ : total) schedule(static)
  for (std::int64_t r = 0; r < rows; ++r) {
    float* x = logits + r * V;
    const std::int32_t y = targets[static_cast<std::size_t>(r)];
    float mx = x[0];
#pragma omp simd reduction(max : mx)
    for (std::int64_t v = 1; v < V; ++v) mx = x[v] > mx ? x[v] : mx;
    const float xy = x[y];
    // Each term is in (0, 1] and there are at most a few thousand, so a float sum is exact
    // enough; the log is taken in double.
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (std::int64_t v = 0; v < V; ++v) {
      const float e = math::fast_exp(x[v] - mx);
      x[v] = e;
      sum += e;
    }
    total += static_cast<double>(mx) + std::log(static_cast<double>(sum)) - static_cast<double>(xy);
    if (scale != 0.0f) {
      const float k = scale / sum;
#pragma omp simd
      for (std::int64_t v = 0; v < V; ++v) x[v] *= k;
      x[y] -= scale;
      if (grad16) {
        std::uint16_t* g = grad16 + r * V;
#pragma omp simd
        for (std::int64_t v = 0; v < V; ++v) g[v] = math::to_bf16(x[v]);
      }
    }
  }
  return total;
}

// db (V) += the column sums of g (M, V). Each thread owns a range of columns and adds the rows in
// order, so the sums do not depend on the thread count.
void add_column_sums(const float* g, std::int64_t M, std::int64_t V, float* db) {
  constexpr std::int64_t kCols = 256;
#pragma omp parallel for schedule(static)
  for (std::int64_t c0 = 0; c0 < V; c0 += kCols) {
    const std::int64_t c1 = std::min(V, c0 + kCols);
    for (std::int64_t r = 0; r < M; ++r) {
      const float* row = g + r * V;
#pragma omp simd
      for (std::int64_t c = c0; c < c1; ++c) db[c] += row[c];
    }
  }
}

// dst = src rounded to bfloat16, n values.
void round_bf16(const float* src, std::uint16_t* dst, std::int64_t n) {
#pragma omp parallel for simd schedule(static)
  for (std::int64_t i = 0; i < n; ++i) dst[i] = math::to_bf16(src[i]);
}

void* mut(const float* p) {
  return const_cast<float*>(p);  // oneDNN takes void* handles; sources are only read
}

}  // namespace

// The products for one row count M. Their operands (y, w and dlogits) are f32, or bf16 for
// training in bf16; the bias, the logits and the gradients written are always f32.
struct OutputLayer::Shape {
  dnnl::memory y, w, b, logits;  // (M,H) (H,V) (1,V) (M,V)
  dnnl::memory yT, dlogits, dw;  // (H,M) view of y, (M,V), (H,V)
  dnnl::memory wT, dy;           // (V,H) view of out.w, (M,H)
  Op fwd, bwd_w, bwd_d;          // logits = y w + b; dw = yT dlogits; dy = dlogits wT
  std::vector<std::uint16_t> y16, dlogits16;  // bf16 only: the rounded y and dlogits

  Shape(const dnnl::engine& eng, std::int64_t M, std::int64_t H, std::int64_t V, dt op)
      : y({{M, H}, op, tag::ab}, eng, DNNL_MEMORY_NONE),
        w({{H, V}, op, tag::ab}, eng, DNNL_MEMORY_NONE),
        b(plain({1, V}), eng, DNNL_MEMORY_NONE),
        logits(plain({M, V}), eng, DNNL_MEMORY_NONE),
        yT({{H, M}, op, {1, H}}, eng, DNNL_MEMORY_NONE),
        dlogits({{M, V}, op, tag::ab}, eng, DNNL_MEMORY_NONE),
        dw(plain({H, V}), eng, DNNL_MEMORY_NONE),
        wT({{V, H}, op, {1, V}}, eng, DNNL_MEMORY_NONE),
        dy(plain({M, H}), eng, DNNL_MEMORY_NONE),
        fwd(eng, y, w, &b, logits),
        bwd_w(eng, yT, dlogits, nullptr, dw),
        bwd_d(eng, dlogits, wT, nullptr, dy) {
    if (op == dt::bf16) {
      y16.resize(static_cast<std::size_t>(M * H));
      dlogits16.resize(static_cast<std::size_t>(M * V));
    }
  }

  // The one place the forward matmul runs (y and w of the operand type).
  void run_forward(dnnl::stream& strm, const void* y_, const void* w_, const float* b_,
                   float* logits_) {
    y.set_data_handle(const_cast<void*>(y_));
    w.set_data_handle(const_cast<void*>(w_));
    b.set_data_handle(mut(b_));
    logits.set_data_handle(logits_);
    fwd.run(strm);
    strm.wait();
  }

  // dw = y^T dlogits, dy = dlogits w^T (operands of the operand type).
  void run_backward(dnnl::stream& strm, const void* y_, const void* w_, const void* dlogits_,
                    float* dw_, float* dy_) {
    yT.set_data_handle(const_cast<void*>(y_));
    dlogits.set_data_handle(const_cast<void*>(dlogits_));
    dw.set_data_handle(dw_);
    bwd_w.run(strm);
    wT.set_data_handle(const_cast<void*>(w_));
    dy.set_data_handle(dy_);
    bwd_d.run(strm);
    strm.wait();
  }
};

OutputLayer::OutputLayer(std::int64_t H, std::int64_t V) : H_(H), V_(V) {}
OutputLayer::~OutputLayer() = default;

OutputLayer::Shape& OutputLayer::shape(std::int64_t M, bool bf16) {
  auto& shapes = bf16 ? shapes_bf16_ : shapes_;
  auto it = shapes.find(M);
  if (it == shapes.end())
    it = shapes.emplace(M, std::make_unique<Shape>(eng_, M, H_, V_, bf16 ? dt::bf16 : dt::f32))
             .first;
  return *it->second;
}

void OutputLayer::set_train_bf16(bool bf16) {
  train_bf16_ = bf16;
  if (bf16) w16_.resize(static_cast<std::size_t>(H_ * V_));
}

void OutputLayer::forward(const float* y, const float* w, const float* b, float* logits,
                          std::int64_t M) {
  shape(M, false).run_forward(strm_, y, w, b, logits);
}

void OutputLayer::step(const float* y, const float* w, const float* b, float* logits,
                       std::int64_t M) {
  if (M > kSmallStepN) return forward(y, w, b, logits, M);
  if (step_w_) {
    for (std::int64_t n = 0; n < M; ++n)
      std::memcpy(logits + n * V_, b, static_cast<std::size_t>(V_) * sizeof(float));
    return step_w_->add_to(M, {{y, H_}}, logits);
  }
  if (H_ * V_ > kOneThreadMacs) return small_linear(y, w, b, logits, M, H_, V_);
  const OneThread one_thread;
  small_linear(y, w, b, logits, M, H_, V_);
}

bool OutputLayer::prepare_step(const float* w, bool bf16) {
  release_step();
  if (!bf16 || H_ * V_ <= kOneThreadMacs) return false;
  try {
    const auto type = charnn_cells::prepared_type(CHARNN_PRECISION_BF16, "the output layer");
    step_w_ = std::make_unique<charnn_cells::PreparedProduct>(H_, V_);
    step_w_->prepare(w, type, "out.w");
  } catch (const charnn::plugin::Error&) {  // no native bf16 here: the f32 step stays
    step_w_.reset();
    return false;
  }
  return true;
}

void OutputLayer::release_step() {
  step_w_.reset();
}

double OutputLayer::loss(const float* y, const float* w, const float* b,
                         std::span<const std::int32_t> targets, float* logits) {
  forward(y, w, b, logits, static_cast<std::int64_t>(targets.size()));
  return softmax_xent(logits, targets, V_, 0.0);
}

double OutputLayer::train(const float* y, const float* w, const float* b,
                          std::span<const std::int32_t> targets, float* logits, float* dw,
                          float* db, float* dy) {
  const std::int64_t M = static_cast<std::int64_t>(targets.size());
  Shape& s = shape(M, train_bf16_);
  const double rows = static_cast<double>(M);
  double loss = 0.0;
  if (train_bf16_) {
    // The operands rounded once per step; the products accumulate in f32.
    round_bf16(y, s.y16.data(), M * H_);
    round_bf16(w, w16_.data(), H_ * V_);
    s.run_forward(strm_, s.y16.data(), w16_.data(), b, logits);
    loss = softmax_xent(logits, targets, V_, 1.0 / rows, s.dlogits16.data()) / rows;
    s.run_backward(strm_, s.y16.data(), w16_.data(), s.dlogits16.data(), dw, dy);
  } else {
    s.run_forward(strm_, y, w, b, logits);
    loss = softmax_xent(logits, targets, V_, 1.0 / rows) / rows;
    s.run_backward(strm_, y, w, logits, dw, dy);
  }
  add_column_sums(logits, M, V_, db);
  return loss;
}

}  // namespace charnn::detail
