// See sequence_products.hpp.
#include "sequence_products.hpp"

namespace charnn_cells {

void SequenceProducts::init(const Shape& s, WeightBuffers& weights) {
  const std::int64_t I = s.I, H = s.H, G = s.G, M = s.T * s.N;
  const dt o = s.op;
  T = s.T;
  N = s.N;
  using dims = memory::dims;
  auto plain = [](dims d, dt type) { return memory::desc(d, type, tag::ab); };
  auto any = [](dims d, dt type) { return memory::desc(d, type, tag::any); };
  const memory::desc bias({1, G}, dt::f32, tag::ab);
  mm_x.init(plain({M, I}, o), any({I, G}, o), plain({M, G}, dt::f32), false, &bias);
  mm_h.init(plain({s.N, H}, o), any({H, G}, o), plain({s.N, G}, dt::f32), false,
            s.h_bias ? &bias : nullptr);
  // W_x and W_h (0 and 1: with I = H their layouts are equal) in buffers every plan shares.
  wx = weights.get(0, mm_x.weights_desc);
  wh = weights.get(1, mm_h.weights_desc);
  r_wx.init(plain({I, G}, dt::f32), mm_x.weights_desc);
  r_wh.init(plain({H, G}, dt::f32), mm_h.weights_desc);
  if (!s.trains) return;
  mm_ht.init(plain({s.N, G}, o), any({G, H}, o), plain({s.N, H}, dt::f32), s.ht_accumulates);
  mm_xt.init(plain({M, G}, o), any({G, I}, o), plain({M, I}, dt::f32), false);
  // H_prev^T and X^T are strided views of the row-major (T*N, H) and (T*N, I) buffers.
  mm_dwh.init(memory::desc({H, M}, o, dims{1, H}), plain({M, G}, o), plain({H, G}, dt::f32), true);
  mm_dwx.init(memory::desc({I, M}, o, dims{1, I}), plain({M, G}, o), plain({I, G}, dt::f32), true);
  wht = memory(mm_ht.weights_desc, cpu_engine());
  wxt = memory(mm_xt.weights_desc, cpu_engine());
  // W^T (G, H) is the host's row-major (H, G) read with swapped strides.
  r_wht.init(memory::desc({G, H}, dt::f32, dims{1, G}), mm_ht.weights_desc);
  r_wxt.init(memory::desc({G, I}, dt::f32, dims{1, G}), mm_xt.weights_desc);
}

void SequenceProducts::load_weights(dnnl::stream& s, const float* params, std::int64_t I,
                                    std::int64_t G, bool with_x) {
  if (with_x) r_wx.run(s, params, wx.get_data_handle());
  r_wh.run(s, params + I * G, wh.get_data_handle());
}

void SequenceProducts::load_transposed(dnnl::stream& s, const float* params, std::int64_t I,
                                       std::int64_t G, bool with_x) {
  r_wht.run(s, params + I * G, wht.get_data_handle());
  if (with_x) r_wxt.run(s, params, wxt.get_data_handle());
}

void SequenceProducts::weight_gradients(dnnl::stream& s, const Gradients& g, std::int64_t I,
                                        std::int64_t G, std::int64_t M, bool bf16) {
  mm_dwh.run(s, g.h_prev, g.dah, g.diff_params + I * G);
  if (g.src_index)
    scatter_add_rows(g.src_index, M, g.dax, bf16, G, g.diff_params);
  else
    mm_dwx.run(s, g.x, g.dax, g.diff_params);
  if (g.diff_src) mm_xt.run(s, g.dax, wxt.get_data_handle(), g.diff_src);
  s.wait();
}

}  // namespace charnn_cells
