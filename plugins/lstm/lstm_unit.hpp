// One LSTM unit's gates and new state from its four pre-activations, the single definition
// that the sequence passes (lstm_sequence.hpp), the step and the traced loop (lstm.cpp) share,
// so that training, sampling and the traced signals compute exactly the same numbers.
#pragma once

#include "fast_math.hpp"

namespace charnn_cells {

struct LstmUnit {
  float i, f, g, o, c, h;
};

inline LstmUnit lstm_unit(float ai, float af, float ag, float ao, float c_prev) {
  LstmUnit u;
  u.i = fast_sigmoid(ai);
  u.f = fast_sigmoid(af);
  u.g = fast_tanh(ag);
  u.o = fast_sigmoid(ao);
  u.c = u.f * c_prev + u.i * u.g;
  u.h = u.o * fast_tanh(u.c);
  return u;
}

}  // namespace charnn_cells
