// One GRU unit's gates and new state, the single definition the sequence passes use (forward
// in training, validation, sampling and tracing), in the form PyTorch and cuDNN use, with the
// reset gate applied after the recurrent product ("linear before reset"):
//   r = sigmoid(ax_r + ah_r),  z = sigmoid(ax_z + ah_z),  n = tanh(ax_n + r * ah_n)
//   h' = (1 - z) * n + z * h
// ax = x . W_x + b_x and ah = h . W_h + b_h, each with its own bias, as PyTorch's b_ih and b_hh.
#pragma once

#include "fast_math.hpp"

namespace charnn_cells {

struct GruUnit {
  float r, z, n, h;
};

inline GruUnit gru_unit(float axr, float axz, float axn, float ahr, float ahz, float ahn,
                        float h_prev) {
  GruUnit u;
  u.r = fast_sigmoid(axr + ahr);
  u.z = fast_sigmoid(axz + ahz);
  u.n = fast_tanh(axn + u.r * ahn);
  u.h = (1.0f - u.z) * u.n + u.z * h_prev;
  return u;
}

}  // namespace charnn_cells
