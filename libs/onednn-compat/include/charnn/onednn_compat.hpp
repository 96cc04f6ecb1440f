// The oneDNN calls whose form differs between oneDNN 2.x (Debian 12 ships 2.6.3) and 3.x
// (Debian 13): 3.x builds primitive descriptors straight from memory descriptors instead of
// from an op descriptor, and replaced output scales with per-argument scales given at execution.
// Everything else charnn uses from oneDNN is the same in both. Only the 2.x branch is built and
// tested here; the 3.x branch follows the v3 API reference.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include <cstring>
#include <vector>

namespace charnn::onednn {

// dst (M, N) = src (M, K) . weights (K, N) [+ bias (1, N)]; bias may be null.
inline dnnl::matmul::primitive_desc make_matmul_pd(const dnnl::engine& eng,
                                                   const dnnl::memory::desc& src,
                                                   const dnnl::memory::desc& weights,
                                                   const dnnl::memory::desc* bias,
                                                   const dnnl::memory::desc& dst,
                                                   const dnnl::primitive_attr& attr = {}) {
#if DNNL_VERSION_MAJOR >= 3
  return bias ? dnnl::matmul::primitive_desc(eng, src, weights, *bias, dst, attr)
              : dnnl::matmul::primitive_desc(eng, src, weights, dst, attr);
#else
  const dnnl::matmul::desc d =
      bias ? dnnl::matmul::desc(src, weights, *bias, dst) : dnnl::matmul::desc(src, weights, dst);
  return dnnl::matmul::primitive_desc(d, attr, eng);
#endif
}

// The memory descriptors of one vanilla RNN layer, named as oneDNN names its arguments.
struct VanillaRnnDescs {
  dnnl::memory::desc src_layer, src_iter, weights_layer, weights_iter, bias, dst_layer, dst_iter;
};
// The gradients' descriptors, for backward.
struct VanillaRnnDiffDescs {
  dnnl::memory::desc src_layer, src_iter, weights_layer, weights_iter, bias, dst_layer, dst_iter;
};

inline dnnl::vanilla_rnn_forward::primitive_desc make_vanilla_rnn_forward_pd(
    const dnnl::engine& eng, dnnl::prop_kind prop, dnnl::algorithm activation,
    dnnl::rnn_direction direction, const VanillaRnnDescs& d) {
#if DNNL_VERSION_MAJOR >= 3
  return dnnl::vanilla_rnn_forward::primitive_desc(eng, prop, activation, direction, d.src_layer,
                                                   d.src_iter, d.weights_layer, d.weights_iter,
                                                   d.bias, d.dst_layer, d.dst_iter);
#else
  const dnnl::vanilla_rnn_forward::desc fd(prop, activation, direction, d.src_layer, d.src_iter,
                                           d.weights_layer, d.weights_iter, d.bias, d.dst_layer,
                                           d.dst_iter);
  return dnnl::vanilla_rnn_forward::primitive_desc(fd, eng);
#endif
}

// hint: the forward primitive descriptor whose workspace backward consumes.
inline dnnl::vanilla_rnn_backward::primitive_desc make_vanilla_rnn_backward_pd(
    const dnnl::engine& eng, dnnl::algorithm activation, dnnl::rnn_direction direction,
    const VanillaRnnDescs& d, const VanillaRnnDiffDescs& g,
    const dnnl::vanilla_rnn_forward::primitive_desc& hint) {
  const auto prop = dnnl::prop_kind::backward;
#if DNNL_VERSION_MAJOR >= 3
  return dnnl::vanilla_rnn_backward::primitive_desc(
      eng, prop, activation, direction, d.src_layer, d.src_iter, d.weights_layer, d.weights_iter,
      d.bias, d.dst_layer, d.dst_iter, g.src_layer, g.src_iter, g.weights_layer, g.weights_iter,
      g.bias, g.dst_layer, g.dst_iter, hint);
#else
  const dnnl::vanilla_rnn_backward::desc bd(prop, activation, direction, d.src_layer, d.src_iter,
                                            d.weights_layer, d.weights_iter, d.bias, d.dst_layer,
                                            d.dst_iter, g.src_layer, g.src_iter, g.weights_layer,
                                            g.weights_iter, g.bias, g.dst_layer, g.dst_iter);
  return dnnl::vanilla_rnn_backward::primitive_desc(bd, eng, hint);
#endif
}

// An argument a primitive needs at every execution besides its data.
struct ExecArg {
  int arg;
  dnnl::memory mem;
};

// Makes a matmul with weights (K, N) scale column j of its result by scales[j] (N values).
// 2.x bakes the scales into the primitive (output scales) and needs nothing at execution; 3.x
// scales the weights argument and reads the scales at execution from the memory returned here,
// which the caller passes (and keeps alive) with every execution.
inline std::vector<ExecArg> set_weight_column_scales(dnnl::primitive_attr& attr,
                                                     const dnnl::engine& eng,
                                                     const std::vector<float>& scales) {
  constexpr int per_column = 1 << 1;  // dimension 1 of the weights, and of dst
#if DNNL_VERSION_MAJOR >= 3
  attr.set_scales_mask(DNNL_ARG_WEIGHTS, per_column);
  const dnnl::memory::dim n = static_cast<dnnl::memory::dim>(scales.size());
  dnnl::memory mem({{n}, dnnl::memory::data_type::f32, dnnl::memory::format_tag::a}, eng);
  std::memcpy(mem.get_data_handle(), scales.data(), scales.size() * sizeof(float));
  return {{DNNL_ARG_ATTR_SCALES | DNNL_ARG_WEIGHTS, mem}};
#else
  (void)eng;
  attr.set_output_scales(per_column, scales);
  return {};
#endif
}

}  // namespace charnn::onednn
