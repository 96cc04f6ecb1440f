// The model's one-step path for sampling: preparing the cells' (and a large output layer's)
// weights in a rounded precision once, and stepping N streams by one unit. See model.hpp.
#include "charnn/model.hpp"
#include "model_impl.hpp"

#include <charnn/error.hpp>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace charnn {

std::string Model::prepare_inference(StepPrecision precision) {
  if (precision == StepPrecision::automatic)
    throw error(
        "internal: Model::prepare_inference needs a precision (prepare_step_path chooses one)");
  release_inference();
  prepared_.assign(layers_.size(), StepPrecision::automatic);
  // The wanted precision first, then the next wider one a plugin offers (int8 -> bf16 -> f32).
  std::vector<std::pair<StepPrecision, charnn_precision>> order;
  if (precision == StepPrecision::int8)
    order.push_back({StepPrecision::int8, CHARNN_PRECISION_INT8});
  if (precision != StepPrecision::f32)
    order.push_back({StepPrecision::bf16, CHARNN_PRECISION_BF16});
  order.push_back({StepPrecision::f32, CHARNN_PRECISION_F32});
  try {
    for (std::size_t l = 0; l < layers_.size(); ++l) {
      const float* p = params_.data() + layer_offset_[l];
      for (const auto& [ours, theirs] : order)
        if (layers_[l].prepare_step(p, theirs)) {
          prepared_[l] = ours;
          break;
        }
    }
  } catch (...) {
    release_inference();
    throw;
  }
  // The output layer follows a rounded step where it is large (thousands of units).
  impl_->out.prepare_step(params_.data() + out_w_offset_, precision != StepPrecision::f32);
  // Summary: the precision every layer got, or the mix.
  std::size_t plain = 0;
  std::vector<std::string> kinds;
  for (auto p : prepared_) {
    if (p == StepPrecision::automatic) {
      ++plain;
      continue;
    }
    if (std::find(kinds.begin(), kinds.end(), to_string(p)) == kinds.end())
      kinds.push_back(to_string(p));
  }
  const std::size_t L = layers_.size();
  if (plain == L) return "plain f32 (no layer's plugin has a prepared path)";
  std::string s;
  for (const auto& k : kinds) s += (s.empty() ? "" : "/") + k;
  if (kinds.size() > 1) s += " mixed";
  if (plain > 0)
    s += " (" + std::to_string(L - plain) + " of " + std::to_string(L) + " layers; others plain)";
  return s;
}

bool Model::output_step_bf16() const {
  return impl_->out.step_prepared();
}

void Model::release_inference() {
  impl_->out.release_step();
  if (prepared_.empty()) return;
  for (std::size_t l = 0; l < layers_.size(); ++l)
    if (prepared_[l] != StepPrecision::automatic) layers_[l].release_step();
  prepared_.clear();
}

void Model::step(std::span<const std::int32_t> ids, State& state, float* logits) {
  check_state(state, "step");
  const std::int64_t N = state.N, H = config_.hidden, V = config_.vocab_size;
  if (static_cast<std::int64_t>(ids.size()) != N)
    throw error("step: expected " + std::to_string(N) + " ids, one per stream");
  detail::check_ids(ids, V, "step");
  Impl& im = *impl_;
  if (im.step_N != N) {
    im.step_N = N;
    im.step_dst.assign(layers_.size(), std::vector<float>(static_cast<std::size_t>(N * H)));
  }
  const float* src = nullptr;
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    charnn_step_args a{};
    a.N = N;
    a.params = params_.data() + layer_offset_[l];
    a.src = src;  // layer 0: NULL, the one-hot input is given by index
    a.src_index = l == 0 ? ids.data() : nullptr;
    a.state = state.layers[l].data();
    a.dst = im.step_dst[l].data();
    layers_[l].step(a);
    src = im.step_dst[l].data();
  }
  impl_->out.step(src, params_.data() + out_w_offset_, params_.data() + out_b_offset_, logits, N);
}

}  // namespace charnn
