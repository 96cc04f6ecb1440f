// Optimisers over the model's flat parameter buffer (one loop each), clipping by global norm,
// and the learning-rate schedule. Their state is one flat float buffer, so a checkpoint stores
// it as-is and a resumed run continues bit for bit.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace charnn {

enum class OptimizerKind : std::uint8_t { adam = 0, rmsprop = 1, sgd = 2 };
std::string to_string(OptimizerKind kind);
OptimizerKind parse_optimizer(std::string_view name);  // throws charnn::error on other names

// How weight_decay acts. l2: wd * w is added to the gradient, so the adaptive optimisers
// rescale it with everything else. decoupled (AdamW, Loshchilov & Hutter): w -= lr * wd * w,
// apart from the optimiser's update, so every weight decays at the same rate.
enum class WeightDecayMode : std::uint8_t { l2 = 0, decoupled = 1 };
std::string to_string(WeightDecayMode mode);
WeightDecayMode parse_weight_decay_mode(std::string_view name);  // throws on other names

struct OptimizerConfig {
  OptimizerKind kind = OptimizerKind::adam;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  // Adam (eps also RMSprop's)
  double rms_decay = 0.99;                        // RMSprop: running mean of g^2
  double momentum = 0.9;                          // SGD (heavy ball)
  double weight_decay = 0.0;                      // 0 = off
  WeightDecayMode weight_decay_mode = WeightDecayMode::l2;
};

class Optimizer {
 public:
  Optimizer(OptimizerConfig config, std::int64_t num_params);
  const OptimizerConfig& config() const { return config_; }

  // params -= update(grads) with learning rate lr. grads is not modified.
  void step(std::span<float> params, std::span<const float> grads, double lr);

  // Flat state: Adam m (P) then v (P); RMSprop mean g^2 (P); SGD velocity (P).
  std::span<float> state() { return state_; }
  std::span<const float> state() const { return state_; }
  std::int64_t steps() const { return steps_; }  // Adam's bias correction needs it
  void set_steps(std::int64_t steps) { steps_ = steps; }

 private:
  OptimizerConfig config_;
  std::int64_t num_params_;
  std::vector<float> state_;  // see state()
  std::int64_t steps_ = 0;
};

// sqrt(sum g^2), accumulated in double.
double global_norm(std::span<const float> grads);
// Scales grads so their global norm is at most max_norm (max_norm <= 0: no clipping).
// Returns the norm before clipping (NaN/Inf when the gradients are not finite).
double clip_by_global_norm(std::span<float> grads, double max_norm);

enum class LrScheduleKind : std::uint8_t { constant = 0, epoch = 1, cosine = 2 };
std::string to_string(LrScheduleKind kind);
LrScheduleKind parse_lr_schedule(std::string_view name);

struct LrSchedule {
  LrScheduleKind kind = LrScheduleKind::cosine;
  double lr = 2e-3;          // peak learning rate
  std::int64_t warmup = 0;   // iterations of linear warm-up from lr/warmup to lr
  double decay = 0.95;       // epoch: multiply by this once per epoch after decay_after
  double decay_after = 0;    // epoch: epochs at full rate before decay starts
  double min_factor = 0.05;  // cosine: final rate as a fraction of lr

  // The rate for an iteration (0-based). epoch: fractional epochs done; progress: fraction of
  // the planned run done in [0, 1] (cosine; with no plan it stays 0, i.e. constant).
  double at(std::int64_t iteration, double epoch, double progress) const;
};

}  // namespace charnn
