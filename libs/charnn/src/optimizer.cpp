// Adam, RMSprop and SGD with momentum as single OpenMP loops over the flat buffers; clipping by
// global norm; learning-rate schedules. Each element's update depends only on its own state,
// so the result does not depend on the thread count.
#include "charnn/optimizer.hpp"

#include "enum_names.hpp"

#include <charnn/error.hpp>

#include <algorithm>
#include <cmath>
#include <numbers>

namespace charnn {

namespace {
constexpr detail::EnumNames<OptimizerKind, 3> kOptimizerKindNames{{
    {OptimizerKind::adam, "adam"},
    {OptimizerKind::rmsprop, "rmsprop"},
    {OptimizerKind::sgd, "sgd"},
}};
}  // namespace

std::string to_string(OptimizerKind kind) {
  return detail::name_of(kOptimizerKindNames, kind);
}

OptimizerKind parse_optimizer(std::string_view name) {
  if (auto value = detail::value_named(kOptimizerKindNames, name)) return *value;
  throw error("unknown optimizer '" + std::string(name) + "'", "use adam, rmsprop or sgd");
}

std::string to_string(WeightDecayMode mode) {
  return mode == WeightDecayMode::decoupled ? "decoupled" : "l2";
}

WeightDecayMode parse_weight_decay_mode(std::string_view name) {
  if (name == "l2") return WeightDecayMode::l2;
  if (name == "decoupled") return WeightDecayMode::decoupled;
  throw error("unknown weight decay mode '" + std::string(name) + "'", "use l2 or decoupled");
}

Optimizer::Optimizer(OptimizerConfig config, std::int64_t num_params)
    : config_(config), num_params_(num_params) {
  const std::int64_t per = config_.kind == OptimizerKind::adam ? 2 : 1;
  state_.assign(static_cast<std::size_t>(per * num_params_), 0.0f);
}

void Optimizer::step(std::span<float> params, std::span<const float> grads, double lr) {
  if (static_cast<std::int64_t>(params.size()) != num_params_ ||
      static_cast<std::int64_t>(grads.size()) != num_params_)
    throw error("optimizer: parameter count changed (" + std::to_string(params.size()) + " vs " +
                std::to_string(num_params_) + ")");
  ++steps_;
  const std::int64_t n = num_params_;
  float* p = params.data();
  const float* g = grads.data();
  // l2 adds wd * p to the gradient; decoupled scales p by keep = 1 - lr * wd before the update
  // instead (keep is exactly 1 in l2 mode, so that path computes what it always did).
  const bool decoupled = config_.weight_decay_mode == WeightDecayMode::decoupled;
  const float wd = decoupled ? 0.0f : static_cast<float>(config_.weight_decay);
  const float keep = decoupled ? static_cast<float>(1.0 - lr * config_.weight_decay) : 1.0f;
  switch (config_.kind) {
    case OptimizerKind::adam: {
      // PyTorch's formulation: p -= lr * m_hat / (sqrt(v_hat) + eps).
      const float b1 = static_cast<float>(config_.beta1), b2 = static_cast<float>(config_.beta2);
      const double t = static_cast<double>(steps_);
      const float step = static_cast<float>(lr / (1.0 - std::pow(config_.beta1, t)));
      const float inv_sqrt_bc2 =
          static_cast<float>(1.0 / std::sqrt(1.0 - std::pow(config_.beta2, t)));
      const float eps = static_cast<float>(config_.eps);
      float* m = state_.data();
      float* v = state_.data() + n;
#pragma omp parallel for simd schedule(static)
      for (std::int64_t i = 0; i < n; ++i) {
        const float gi = g[i] + wd * p[i];
        m[i] = b1 * m[i] + (1.0f - b1) * gi;
        v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
        p[i] = keep * p[i] - step * m[i] / (std::sqrt(v[i]) * inv_sqrt_bc2 + eps);
      }
      break;
    }
    case OptimizerKind::rmsprop: {
      const float a = static_cast<float>(config_.rms_decay);
      const float eps = static_cast<float>(config_.eps);
      const float rate = static_cast<float>(lr);
      float* s = state_.data();
#pragma omp parallel for simd schedule(static)
      for (std::int64_t i = 0; i < n; ++i) {
        const float gi = g[i] + wd * p[i];
        s[i] = a * s[i] + (1.0f - a) * gi * gi;
        p[i] = keep * p[i] - rate * gi / (std::sqrt(s[i]) + eps);
      }
      break;
    }
    case OptimizerKind::sgd: {
      const float mu = static_cast<float>(config_.momentum);
      const float rate = static_cast<float>(lr);
      float* vel = state_.data();
#pragma omp parallel for simd schedule(static)
      for (std::int64_t i = 0; i < n; ++i) {
        const float gi = g[i] + wd * p[i];
        vel[i] = mu * vel[i] + gi;
        p[i] = keep * p[i] - rate * vel[i];
      }
      break;
    }
  }
}

double global_norm(std::span<const float> grads) {
  // Fixed-size blocks summed in order keep the result independent of the thread count.
  const std::int64_t n = static_cast<std::int64_t>(grads.size());
  const std::int64_t block = 1 << 16;
  const std::int64_t blocks = (n + block - 1) / block;
  std::vector<double> partial(static_cast<std::size_t>(blocks), 0.0);
  const float* g = grads.data();
#pragma omp parallel for schedule(static)
  for (std::int64_t b = 0; b < blocks; ++b) {
    double s = 0.0;
    const std::int64_t end = std::min(n, (b + 1) * block);
    for (std::int64_t i = b * block; i < end; ++i) s += static_cast<double>(g[i]) * g[i];
    partial[static_cast<std::size_t>(b)] = s;
  }
  double total = 0.0;
  for (double s : partial) total += s;
  return std::sqrt(total);
}

double clip_by_global_norm(std::span<float> grads, double max_norm) {
  const double norm = global_norm(grads);
  if (max_norm > 0 && std::isfinite(norm) && norm > max_norm) {
    const float scale = static_cast<float>(max_norm / norm);
    float* g = grads.data();
    const std::int64_t n = static_cast<std::int64_t>(grads.size());
#pragma omp parallel for simd schedule(static)
    for (std::int64_t i = 0; i < n; ++i) g[i] *= scale;
  }
  return norm;
}

namespace {
constexpr detail::EnumNames<LrScheduleKind, 3> kLrScheduleKindNames{{
    {LrScheduleKind::constant, "constant"},
    {LrScheduleKind::epoch, "epoch"},
    {LrScheduleKind::cosine, "cosine"},
}};
}  // namespace

std::string to_string(LrScheduleKind kind) {
  return detail::name_of(kLrScheduleKindNames, kind);
}

LrScheduleKind parse_lr_schedule(std::string_view name) {
  if (auto value = detail::value_named(kLrScheduleKindNames, name)) return *value;
  throw error("unknown learning-rate schedule '" + std::string(name) + "'",
              "use constant, epoch or cosine");
}

double LrSchedule::at(std::int64_t iteration, double epoch, double progress) const {
  double rate = lr;
  switch (kind) {
    case LrScheduleKind::constant:
      break;
    case LrScheduleKind::epoch: {
      const double epochs = std::floor(std::max(0.0, epoch - decay_after));
      rate = lr * std::pow(decay, epochs);
      break;
    }
    case LrScheduleKind::cosine: {
      const double p = std::clamp(progress, 0.0, 1.0);
      rate = lr * (min_factor + (1.0 - min_factor) * 0.5 * (1.0 + std::cos(std::numbers::pi * p)));
      break;
    }
  }
  if (warmup > 0 && iteration < warmup)
    rate *= static_cast<double>(iteration + 1) / static_cast<double>(warmup);
  return rate;
}

}  // namespace charnn
