// TrainState to and from a checkpoint's state.* keys. See train_state.hpp.
#include "train_state.hpp"

#include <type_traits>

namespace charnn::detail {

void TrainState::save(CheckpointData& d) const {
  for_each_field(*this, [&](const char* key, const auto& v) { d.set(key, v); });
}

TrainState TrainState::load(const CheckpointData& d) {
  TrainState s;
  for_each_field(s, [&](const char* key, auto& v) {
    if (optional_key(key) && !d.has(key)) return;
    if constexpr (std::is_same_v<std::remove_cvref_t<decltype(v)>, double>)
      v = d.get_double(key);
    else
      v = d.get_int(key);
  });
  return s;
}

}  // namespace charnn::detail
