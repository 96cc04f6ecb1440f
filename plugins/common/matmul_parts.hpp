// The pieces the cells' matmul-based sequence passes are built from (lstm/lstm_sequence.hpp,
// gru/gru_sequence.hpp): one product with its memory objects made once and the buffers plugged in
// per call, a reorder of the host's weights into a product's layout, the weight buffers plans
// share, the row gather and scatter of a one-hot input given by index, and bfloat16 bits back to
// float.
#pragma once

#include <charnn/onednn_compat.hpp>

#include <omp.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "onednn_support.hpp"

namespace charnn_cells {

// y = x . w (+ bias) (+ y if accumulating): one matmul with its memory objects, whose handles
// are set per call.
struct Gemm {
  Prepared p;
  memory src, wei, dst, bias;
  // The weights' layout the primitive chose (format_tag::any), for the reorders.
  memory::desc weights_desc;
  void init(const memory::desc& s, const memory::desc& w, const memory::desc& d, bool accumulate,
            const memory::desc* b = nullptr) {
    dnnl::primitive_attr attr;
    if (accumulate) {
      dnnl::post_ops po;
      po.append_sum(1.0f);
      attr.set_post_ops(po);
    }
    const auto pd = charnn::onednn::make_matmul_pd(cpu_engine(), s, w, b, d, attr);
    weights_desc = pd.weights_desc();
    src = wrap(pd.src_desc());
    wei = wrap(weights_desc);
    dst = wrap(pd.dst_desc());
    p.prim = dnnl::matmul(pd);
    p.add(DNNL_ARG_SRC, src);
    p.add(DNNL_ARG_WEIGHTS, wei);
    p.add(DNNL_ARG_DST, dst);
    if (b) {
      bias = wrap(*b);
      p.add(DNNL_ARG_BIAS, bias);
    }
  }
  void run(dnnl::stream& s, const void* x, const void* w, float* y, const float* b = nullptr) {
    src.set_data_handle(const_cast<void*>(x));
    wei.set_data_handle(const_cast<void*>(w));
    dst.set_data_handle(y);
    if (b) bias.set_data_handle(const_cast<float*>(b));
    p.run(s);
  }
};

// The host's f32 weights (possibly a transposed view) into a primitive's weight layout.
struct Convert {
  Prepared p;
  memory from, to;
  void init(const memory::desc& f, const memory::desc& t) {
    from = wrap(f);
    to = wrap(t);
    p.prim = dnnl::reorder(from, to);
    p.add(DNNL_ARG_FROM, from);
    p.add(DNNL_ARG_TO, to);
  }
  void run(dnnl::stream& s, const float* f, void* t) {
    from.set_data_handle(const_cast<float*>(f));
    to.set_data_handle(t);
    p.run(s);
  }
};

inline float bf16_to_f32(std::uint16_t v) {
  const std::uint32_t bits = static_cast<std::uint32_t>(v) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// Ax = W_x[id] + b for M rows of ids, each row G wide: the rows a one-hot X would pick, exactly
// what the f32 product X . W_x + b gives.
inline void gather_rows(const std::int32_t* ids, std::int64_t M, const float* wx, const float* b,
                        std::int64_t G, float* out) {
#pragma omp parallel for schedule(static)
  for (std::int64_t r = 0; r < M; ++r) {
    const float* w = wx + static_cast<std::int64_t>(ids[r]) * G;
    float* o = out + r * G;
    for (std::int64_t k = 0; k < G; ++k) o[k] = w[k] + b[k];
  }
}

// dW_x[id_r] += dA_r for M rows G wide, what X^T . dA adds for a one-hot X; dA in f32 or, when
// bf16, as bfloat16 bits. Each thread owns a range of columns and adds the rows in order, so
// the sums are the same for any thread count.
inline void scatter_add_rows(const std::int32_t* ids, std::int64_t M, const std::byte* da,
                             bool bf16, std::int64_t G, float* dwx) {
  const int threads = omp_get_max_threads();
  const std::int64_t chunk = ((G + threads - 1) / threads + 15) / 16 * 16;
#pragma omp parallel for schedule(static)
  for (int k = 0; k < threads; ++k) {
    const std::int64_t c0 = k * chunk, c1 = std::min(G, c0 + chunk);
    for (std::int64_t r = 0; r < M && c0 < c1; ++r) {
      float* d = dwx + static_cast<std::int64_t>(ids[r]) * G;
      if (bf16) {
        const auto* g = reinterpret_cast<const std::uint16_t*>(da) + r * G;
        for (std::int64_t c = c0; c < c1; ++c) d[c] += bf16_to_f32(g[c]);
      } else {
        const auto* g = reinterpret_cast<const float*>(da) + r * G;
        for (std::int64_t c = c0; c < c1; ++c) d[c] += g[c];
      }
    }
  }
}

// Buffers for weights in a product's layout, shared by every plan whose product chose the same
// layout: each forward reorders the host's weights into it before use, so sharing is safe, and
// tracing, which meets several (T, N), keeps one copy of each matrix instead of one per plan
// (~10 MB a layer at H = 512). `which` tells the matrices apart (W_x 0, W_h 1): with I = H their
// layouts are equal.
class WeightBuffers {
 public:
  memory get(int which, const memory::desc& md) {
    for (const auto& w : buffers_)
      if (w.which == which && w.desc == md) return w.mem;
    buffers_.push_back({which, md, memory(md, cpu_engine())});
    return buffers_.back().mem;
  }
  void clear() { buffers_.clear(); }

 private:
  struct Buffer {
    int which;
    memory::desc desc;
    memory mem;
  };
  std::vector<Buffer> buffers_;
};

}  // namespace charnn_cells
