// The oneDNN pieces the cells' matmul-based sequence passes are built from (lstm/
// lstm_sequence.hpp, gru/gru_sequence.hpp): one product with its memory objects made once and
// the buffers plugged in per call, a reorder of the host's weights into a product's layout, and
// bfloat16 bits back to float.
#pragma once

#include <charnn/onednn_compat.hpp>

#include <cstdint>
#include <cstring>

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

}  // namespace charnn_cells
