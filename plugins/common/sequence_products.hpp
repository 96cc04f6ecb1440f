// What the matmul-based sequence passes of the LSTM and the GRU (lstm/lstm_sequence.hpp,
// gru/gru_sequence.hpp) have in common: the six products of one plan (T steps of N streams,
// gate width G, 4H or 3H), the reorders of the host's weights into their layouts, and the
// weight gradients over all rows at the end of backward. matmul_sequence.hpp builds the passes
// on them.
#pragma once

#include <charnn/plugin.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "matmul_parts.hpp"
#include "onednn_support.hpp"

namespace charnn_cells {

struct SequenceProducts {
  struct Shape {
    std::int64_t I = 0, H = 0, G = 0;  // input, hidden and gate width
    std::int64_t T = 0, N = 0;
    dt op = dt::f32;            // the products' input type (f32 or bf16)
    bool trains = false;        // backward's products too
    bool h_bias = false;        // the recurrent product adds a bias (the GRU's b_h)
    bool ht_accumulates = false;  // dh += dA . W_h^T (the GRU's dh already holds dh * z)
  };

  std::int64_t T = 0, N = 0;
  // forward: Ax = X . W_x (+ b), A_h = h . W_h (+ b_h); backward: dh = dA . W_h^T,
  // dX = dAx . W_x^T, dW_h += H_prev^T . dAh, dW_x += X^T . dAx
  Gemm mm_x, mm_h, mm_ht, mm_xt, mm_dwh, mm_dwx;
  Convert r_wx, r_wh, r_wht, r_wxt;
  memory wx, wh, wht, wxt;  // the weights in the products' layouts (wx, wh shared by plans)
  std::vector<std::byte> xs;  // bf16 plans: X (T, N, I) in bf16, sized by the owner

  void init(const Shape& s, WeightBuffers& weights);
  // The host's W_x (I, G) at params and W_h (H, G) after it, for forward. with_x = false leaves
  // W_x alone: an input given by index gathers its rows from params (for a vocabulary of
  // thousands the copy was a 5,000 x 1,536 reorder on every call).
  void load_weights(dnnl::stream& s, const float* params, std::int64_t I, std::int64_t G,
                    bool with_x);
  // W_h^T and, when dX is wanted, W_x^T, for backward.
  void load_transposed(dnnl::stream& s, const float* params, std::int64_t I, std::int64_t G,
                       bool with_x);

  // At the end of backward, over all M = T * N rows at once, added to the host's gradients (the
  // ABI accumulates): dW_h += H_prev^T . dAh, dW_x += X^T . dAx (for a one-hot X given by
  // index, a scatter-add of dAx's rows) and dX = dAx . W_x^T when diff_src is wanted. dah and
  // dax are (M, G) in the products' type; h_prev and x likewise.
  struct Gradients {
    const void* h_prev;
    const void* x;                  // unused with src_index
    const std::int32_t* src_index;  // NULL for a dense X
    const std::byte *dah, *dax;
    float* diff_params;
    float* diff_src;  // NULL: not wanted
  };
  void weight_gradients(dnnl::stream& s, const Gradients& g, std::int64_t I, std::int64_t G,
                        std::int64_t M, bool bf16);
};

}  // namespace charnn_cells
