// The cells call the shared fast math (charnn/fast_math.hpp) unqualified, as their own.
#pragma once

#include <charnn/fast_math.hpp>

namespace charnn_cells {
using charnn::math::fast_exp;
using charnn::math::fast_sigmoid;
using charnn::math::fast_tanh;
using charnn::math::to_bf16;
}  // namespace charnn_cells
