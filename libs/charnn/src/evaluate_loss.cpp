// Scoring a text with the state carried: evaluate_loss (trainer.hpp), and the layout and
// per-stream sums that let ranks share a validation (trainer_impl.hpp).
#include "charnn/trainer.hpp"

#include "trainer_impl.hpp"

#include <algorithm>
#include <vector>

namespace charnn {

using namespace detail;

namespace detail {

EvalLayout eval_layout(std::int64_t n, std::int64_t N, std::int64_t T) {
  if (n < 2) return {};
  N = std::max<std::int64_t>(1, std::min(N, (n - 1) / std::max<std::int64_t>(T, 1)));
  const std::int64_t L = (n - 1) / N;  // units per stream
  T = std::min(T, L);
  return {.N = N, .T = T, .L = L, .segments = L / T, .stride = L};
}

EvalLayout spread_layout(std::int64_t n, std::int64_t units, std::int64_t N, std::int64_t T) {
  EvalLayout at = eval_layout(std::min(n, units + 1), N, T);
  if (at.N > 0) at.stride = (n - 1) / at.N;  // >= at.L: the last stream ends inside the text
  return at;
}

double evaluate_streams(Model& model, std::span<const std::int32_t> ids, const EvalLayout& at,
                        std::int64_t first, std::int64_t count,
                        const std::function<void(std::int64_t)>& done) {
  if (count < 1 || at.segments < 1) return 0;
  const std::int64_t T = at.T;
  std::vector<std::int32_t> inputs(static_cast<std::size_t>(T * count));   // (T, count)
  std::vector<std::int32_t> targets(static_cast<std::size_t>(T * count));  // (T, count)
  Model::State state = model.zero_state(count);
  double total = 0;
  for (std::int64_t s = 0; s < at.segments; ++s) {
    for (std::int64_t t = 0; t < T; ++t)
      for (std::int64_t k = 0; k < count; ++k) {
        const std::int64_t p = (first + k) * at.stride + s * T + t;
        inputs[static_cast<std::size_t>(t * count + k)] = ids[static_cast<std::size_t>(p)];
        targets[static_cast<std::size_t>(t * count + k)] = ids[static_cast<std::size_t>(p + 1)];
      }
    total += model.evaluate(inputs, targets, T, state);
    if (done) done((s + 1) * T * count);
  }
  return total;
}

}  // namespace detail

double evaluate_loss(Model& model, std::span<const std::int32_t> ids, std::int64_t N,
                     std::int64_t T, std::int64_t* scored) {
  const EvalLayout at = eval_layout(static_cast<std::int64_t>(ids.size()), N, T);
  if (scored) *scored = at.units();
  if (at.units() == 0) return kNaN;
  return evaluate_streams(model, ids, at, 0, at.N) / static_cast<double>(at.units());
}

}  // namespace charnn
