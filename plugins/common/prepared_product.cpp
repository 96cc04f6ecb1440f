// See prepared_product.hpp.
#include "prepared_product.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "vector_loops.hpp"

namespace charnn_cells {

dt prepared_type(charnn_precision precision, const char* what) {
  if (precision == CHARNN_PRECISION_BF16) require_native_bf16(what);
  if (precision == CHARNN_PRECISION_INT8 && !has_native_int8())
    throw Error(CHARNN_ERR_UNSUPPORTED,
                std::string(what) + ": this CPU has no fast int8 support (AVX512 VNNI)");
  return precision == CHARNN_PRECISION_BF16   ? dt::bf16
         : precision == CHARNN_PRECISION_INT8 ? dt::s8
                                              : dt::f32;
}

PreparedProduct::PreparedProduct(std::int64_t rows, std::int64_t columns)
    : K_(rows), M_(columns), stream_(cpu_engine()) {}

void PreparedProduct::prepare(const float* w, dt type, const char* name) {
  // Whatever happens below, the old copy is gone: the host may be about to change it.
  w_ = nullptr;
  plans_.clear();
  weights_.clear();
  if (!w) return;
  if (type == dt::s8) {
    // A NaN or infinite weight has no int8 scale; refusing lets the host fall back to bf16,
    // which carries NaN through to the logits (where the sampler reports it).
    for (std::int64_t k = 0; k < K_ * M_; ++k)
      if (!std::isfinite(w[k]))
        throw Error(CHARNN_ERR_UNSUPPORTED,
                    "prepare_step: a non-finite weight (" + std::string(name) + " row " +
                        std::to_string(k / M_) + ", column " + std::to_string(k % M_) +
                        ") cannot be quantised to int8");
  }
  w_ = w;
  type_ = type;
}

// The matmul's attributes; for int8 also the quantised weights w_q (K, M) and their per-column
// scales, and the plan's int8 buffers.
dnnl::primitive_attr PreparedProduct::plan_attr(Plan& pp, std::int64_t N,
                                                std::vector<std::int8_t>& w_q) const {
  dnnl::primitive_attr attr;
  if (type_ != dt::s8) {  // accumulate onto what the caller has put in out
    dnnl::post_ops po;
    po.append_sum(1.0f);
    attr.set_post_ops(po);
    return attr;
  }
  // Symmetric per-column quantisation: w_q = round(w / w_scale[j]), w_scale = max|w| / 127.
  std::vector<float> w_scale(static_cast<std::size_t>(M_), 0.0f);
  for (std::int64_t k = 0; k < K_; ++k)
    for (std::int64_t j = 0; j < M_; ++j) w_scale[j] = std::max(w_scale[j], std::abs(w_[k * M_ + j]));
  for (auto& sc : w_scale) sc = sc > 0.0f ? sc / 127.0f : 1.0f;
  w_q.resize(static_cast<std::size_t>(K_ * M_));
  for (std::int64_t k = 0; k < K_; ++k)
    for (std::int64_t j = 0; j < M_; ++j)
      w_q[k * M_ + j] = static_cast<std::int8_t>(std::lrint(w_[k * M_ + j] / w_scale[j]));
  pp.scale_args = charnn::onednn::set_weight_column_scales(attr, cpu_engine(), w_scale);
  pp.acc.assign(static_cast<std::size_t>(N * M_), 0.0f);
  pp.v_scale.assign(static_cast<std::size_t>(N), 1.0f);
  return attr;
}

// One copy of the weights per layout: plans for other N reuse it when oneDNN picks the same.
void PreparedProduct::load_weights(Plan& pp, const memory::desc& w_md,
                                   const std::vector<std::int8_t>& w_q) {
  for (const auto& [md, mem] : weights_)
    if (md == w_md) pp.w = mem;
  if (pp.w) return;
  // Reorder (and round, for bf16) the host's rows once; for int8 the quantised rows (the
  // reorder adds oneDNN's s8s8 compensation).
  memory plain_w = type_ == dt::s8 ? memory({{K_, M_}, dt::s8, tag::ab}, cpu_engine(),
                                            const_cast<std::int8_t*>(w_q.data()))
                                   : memory({{K_, M_}, dt::f32, tag::ab}, cpu_engine(),
                                            const_cast<float*>(w_));
  pp.w = std::make_shared<memory>(w_md, cpu_engine());
  dnnl::reorder(plain_w, *pp.w).execute(stream_, plain_w, *pp.w);
  stream_.wait();
  weights_.emplace_back(w_md, pp.w);
}

PreparedProduct::Plan& PreparedProduct::plan(std::int64_t N) {
  std::unique_ptr<Plan>& slot = plans_[{N, omp_get_max_threads()}];
  if (slot) return *slot;
  auto pp = std::make_unique<Plan>();
  const memory::desc src_md({N, K_}, type_, tag::ab);
  const memory::desc w_any({K_, M_}, type_, tag::any);
  const memory::desc dst_md({N, M_}, dt::f32, tag::ab);
  std::vector<std::int8_t> w_q;  // int8: (K, M)
  const dnnl::primitive_attr attr = plan_attr(*pp, N, w_q);
  const auto pd =
      charnn::onednn::make_matmul_pd(cpu_engine(), src_md, w_any, nullptr, dst_md, attr);
  pp->mm.prim = dnnl::matmul(pd);
  load_weights(*pp, pd.weights_desc(), w_q);
  pp->src = memory(src_md, cpu_engine());
  pp->dst = wrap(dst_md);
  pp->mm.add(DNNL_ARG_SRC, pp->src);
  pp->mm.add(DNNL_ARG_WEIGHTS, *pp->w);
  for (const auto& s : pp->scale_args) pp->mm.add(s.arg, s.mem);
  pp->mm.add(DNNL_ARG_DST, pp->dst);
  slot = std::move(pp);
  return *slot;
}

// Copies stream n's piece into its src row at column col, in the prepared type.
void PreparedProduct::put(const Plan& pp, std::int64_t n, std::int64_t col, const float* from,
                          std::int64_t width) const {
  void* base = pp.src.get_data_handle();
  const std::int64_t at = n * K_ + col;
  if (type_ == dt::f32) {
    std::memcpy(static_cast<float*>(base) + at, from, static_cast<std::size_t>(width) * 4);
  } else if (type_ == dt::s8) {
    const float v_scale = pp.v_scale[static_cast<std::size_t>(n)];
    if (std::isnan(v_scale))  // non-finite input: the row is set to NaN after the matmul
      std::memset(static_cast<std::int8_t*>(base) + at, 0, static_cast<std::size_t>(width));
    else
      quantize_s8(from, 1.0f / v_scale, static_cast<std::int8_t*>(base) + at, width);
  } else {
    convert_bf16(from, static_cast<std::uint16_t*>(base) + at, width);
  }
}

void PreparedProduct::add_to(std::int64_t N, std::initializer_list<Piece> v, float* out) {
  Plan& pp = plan(N);
  const bool int8 = type_ == dt::s8;
  for (std::int64_t n = 0; n < N; ++n) {
    if (int8) {
      // NaN or infinity in the input makes the scale NaN, and the row NaN below.
      float m = 0.0f;
      for (const Piece& p : v) {
        const float a = max_abs(p.data + n * p.width, p.width);
        m = std::isfinite(a) && std::isfinite(m) ? std::max(m, a) : NAN;
      }
      pp.v_scale[static_cast<std::size_t>(n)] = m > 0.0f ? m / 127.0f : m == 0.0f ? 1.0f : NAN;
    }
    std::int64_t col = 0;
    for (const Piece& p : v) {
      put(pp, n, col, p.data + n * p.width, p.width);
      col += p.width;
    }
  }
  bind(pp.dst, int8 ? pp.acc.data() : out);
  pp.mm.run(stream_);
  stream_.wait();
  if (!int8) return;
  for (std::int64_t n = 0; n < N; ++n) {
    const float v_scale = pp.v_scale[static_cast<std::size_t>(n)];
    float* row = out + n * M_;
    if (std::isnan(v_scale))
      std::fill(row, row + M_, NAN);
    else
      add_scaled(row, pp.acc.data() + n * M_, v_scale, M_);
  }
}

}  // namespace charnn_cells
