// What the trainer says of its progress: the status line, the validation figures and the best
// model so far, shared by the loop (trainer.cpp) and its messages.
#include "train_banner.hpp"
#include "trainer_impl.hpp"

#include <cmath>
#include <limits>

namespace charnn::detail {

std::string Trainer::validation_text(double v) const {
  return fixed(v, 4) + " nats/unit, " + fixed(v / kLn2, 4) + " bits/unit";
}

std::string Trainer::describe_best() const {
  if (!std::isfinite(state_.best_valid)) return "no validation yet";
  return "best validation " + fixed(state_.best_valid, 4) + " nats/unit (" +
         fixed(state_.best_valid / kLn2, 4) + " bits" +
         (eval_is_slice() ? ", " + thousands(config_.eval_units) + " units spread over the split"
                          : std::string()) +
         ") at iteration " + std::to_string(state_.best_iteration);
}

std::string Trainer::status_line() const {
  const double rate = window_.rate;
  const double epoch = batches_->epoch_fraction(state_.position);
  std::string s =
      "iter " + thousands(state_.iteration) + " | epoch " + fixed(epoch, 2) + " | train " +
      (std::isnan(state_.train_ema) ? std::string("-") : fixed(state_.train_ema, 3)) + " | val " +
      (std::isnan(state_.last_valid) ? std::string("-") : fixed(state_.last_valid, 3)) + " | " +
      rate_text(rate) + " units/s | lr " + short_num(last_lr_);
  // ETA: the nearest of the stop conditions that are set.
  double left = std::numeric_limits<double>::infinity();
  const double per_iter = state_.iteration > 0 && rate > 0
                              ? static_cast<double>(config_.batch * config_.seq_len) / rate
                              : 0;
  if (config_.time_limit > 0) left = std::min(left, config_.time_limit - elapsed());
  if (config_.max_iters > 0 && per_iter > 0)
    left = std::min(left, static_cast<double>(config_.max_iters - state_.iteration) * per_iter);
  if (config_.epochs > 0 && per_iter > 0)
    left = std::min(left, (static_cast<double>(config_.epochs) - epoch) *
                              static_cast<double>(batches_->segments_per_epoch()) * per_iter);
  if (std::isfinite(left)) s += " | " + format_duration(left) + " left";
  return s;
}

}  // namespace charnn::detail
