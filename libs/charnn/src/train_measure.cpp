// The plan's measurements on this machine and corpus: the speed of each width it weighs, and
// --lr auto's check of the rate on the planned model.
#include "train_banner.hpp"
#include "trainer_impl.hpp"

#include <charnn/lr_check.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>

namespace charnn::detail {

namespace {

// Samples timed per width for the plan (after one warm-up sample); the median counts.
constexpr std::size_t kTimedSteps = 5;

}  // namespace

// --lr auto (lr_check.hpp): trains the planned model from its initial weights over the warm-up
// and a little more, and halves the rate while the training loss rises. The run then starts
// afresh from the same initial weights; the check's seconds count against --time.
void Trainer::check_learning_rate(TrainPlan& plan) {
  const std::int64_t N = config_.batch, T = config_.seq_len;
  const std::int64_t steps = lr_check_steps(config_.schedule.warmup);
  const double planned_iterations = plan.planned_units / static_cast<double>(N * T);
  if (plan.planned_units > 0 && planned_iterations < kLrCheckShare * static_cast<double>(steps)) {
    // Said, not silent: a short first run of a new cell is where an untested rate bites.
    plan.why += "; lr not checked (" + thousands(static_cast<std::int64_t>(planned_iterations)) +
                " iterations planned, the check needs " +
                thousands(static_cast<std::int64_t>(kLrCheckShare) * steps) + ")";
    return;
  }
  const auto t0 = std::chrono::steady_clock::now();
  ModelConfig mc;
  mc.cells = config_.cells;
  mc.hidden = config_.hidden;
  mc.vocab_size = vocab_.size();
  mc.dropout = config_.dropout;
  mc.dropout_mask = config_.dropout_mask;
  mc.weight_drop = static_cast<float>(config_.weight_drop);
  Model model(mc, plugins_);
  model.set_train_precision(config_.precision);
  const Batches batches(split_.train, N, T, config_.seed);
  std::vector<std::int32_t> inputs(static_cast<std::size_t>(N * T)), targets(inputs.size());
  std::vector<std::int32_t> fixed_inputs(inputs.size()), fixed_targets(inputs.size());
  batches.fill(DataPosition{}, fixed_inputs.data(), fixed_targets.data());
  const auto fixed_loss = [&] {
    Model::State zero = model.zero_state(N);
    return model.evaluate(fixed_inputs, fixed_targets, T, zero) / static_cast<double>(N * T);
  };
  std::string risen;
  for (int halvings = 0;; ++halvings) {
    model.init_params(config_.seed);
    Optimizer optimizer(config_.optimizer, static_cast<std::int64_t>(model.params().size()));
    Model::State state = model.zero_state(N);
    DataPosition at;
    LossRiseDetector detector;
    for (std::int64_t i = 0; i < steps; ++i) {
      progress_->update("checking the learning rate " + short_num(config_.schedule.lr) + ": step " +
                        std::to_string(i + 1) + " of " + std::to_string(steps));
      if (at.segment == 0)
        for (auto& l : state.layers) std::fill(l.begin(), l.end(), 0.0f);
      batches.fill(at, inputs.data(), targets.data());
      const double loss =
          model.train_step(inputs, targets, T, state, dropout_seed(config_.seed, i));
      const double norm = clip_by_global_norm(model.grads(), config_.clip);
      if (!std::isfinite(loss) || !std::isfinite(norm)) {
        detector.add(i + 1, kNaN);
        break;
      }
      optimizer.step(model.params(), model.grads(),
                     config_.schedule.at(i, batches.epoch_fraction(at), 0));
      at = batches.next(at);
      if ((i + 1) % kLrCheckEvery != 0) continue;
      double score = fixed_loss();
      if (faults_.lr_check_rise_above > 0 && config_.schedule.lr > faults_.lr_check_rise_above &&
          i + 1 > kLrCheckEvery)
        score += 1;
      if (detector.add(i + 1, score)) break;
    }
    if (!detector.risen()) break;
    risen += (risen.empty() ? "" : "; ") + std::string("at ") + short_num(config_.schedule.lr) +
             " " + detector.why();
    if (halvings == kLrCheckHalvings) break;  // keep the lowest rate tried
    config_.schedule.lr /= 2;
  }
  progress_->clear();
  state_.check_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  plan.lr = config_.schedule.lr;
  plan.why +=
      "; lr check (" + std::to_string(steps) + " steps, " + format_duration(state_.check_seconds) +
      "): " + (risen.empty() ? short_num(plan.lr) + " held" : risen + ", so " + short_num(plan.lr));
}

WidthCost Trainer::measure_width(std::int64_t hidden, bool timed) {
  ModelConfig mc;
  mc.cells = config_.cells;
  mc.hidden = hidden;
  mc.vocab_size = vocab_.size();
  Model model(mc, plugins_);
  WidthCost cost{.parameters = static_cast<std::int64_t>(model.params().size())};
  if (!timed) return cost;
  model.init_params(config_.seed);
  model.set_train_precision(config_.precision);
  // Each rank trains and validates its share of the streams: the step of the largest share is
  // the step of the whole batch (the sum of the gradients is not counted).
  const std::int64_t N = config_.batch, T = config_.seq_len;
  const std::int64_t n = stream_share(N, 0, ranks_.size()).count;
  const Batches batches(split_.train, n, T, config_.seed);
  std::vector<std::int32_t> inputs(static_cast<std::size_t>(n * T)), targets(inputs.size());
  batches.fill(DataPosition{}, inputs.data(), targets.data());
  Model::State state = model.zero_state(n);
  using clock = std::chrono::steady_clock;
  const auto seconds = [](clock::time_point a, clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
  };
  // The median of a few timed samples after a warm-up one: a single timed step planned the same
  // ru run at 22.3k units/s once and 38.5k the next (it trained at 28-29k both times).
  const auto median_seconds = [&](auto&& step) {
    std::array<double, kTimedSteps> took{};
    for (double& s : took) {
      const auto t0 = clock::now();
      step();
      s = seconds(t0, clock::now());
    }
    std::nth_element(took.begin(), took.begin() + static_cast<std::ptrdiff_t>(kTimedSteps / 2),
                     took.end());
    return std::max(took[kTimedSteps / 2], 1e-9);
  };
  // A whole step, as the loop takes it: the gradient, clipping, the optimiser and the weight
  // average. Timing train_step alone planned War and Peace at 44.4k units/s for 2 hours, which
  // trained at 32.1k: 111 passes planned, 81 made (2026-12-03).
  Optimizer optimizer(config_.optimizer, cost.parameters);
  std::unique_ptr<WeightAverage> average;
  if (config_.ema > 0) average = std::make_unique<WeightAverage>(config_.ema, model.params());
  std::int64_t step = 0;
  const auto whole_step = [&] {
    ++step;
    model.train_step(inputs, targets, T, state, static_cast<std::uint64_t>(step));
    clip_by_global_norm(model.grads(), config_.clip);
    optimizer.step(model.params(), model.grads(), 1e-4);  // any rate takes the same time
    if (average) average->update(model.params(), step);
  };
  // Each sample is one stride of the average, so that each holds its pass over the weights.
  const auto sample = [&] {
    for (std::int64_t i = 0; i < WeightAverage::kStride; ++i) whole_step();
  };
  sample();
  const double train = median_seconds(sample) / static_cast<double>(WeightAverage::kStride);
  model.evaluate(inputs, targets, T, state);
  const double eval = median_seconds([&] { model.evaluate(inputs, targets, T, state); });
  const double units = static_cast<double>(N * T);
  cost.train_units_per_second = units / train;
  cost.eval_units_per_second = units / eval;
  return cost;
}

}  // namespace charnn::detail
