// Gradient bursts: a step whose gradient norm is far above the running level of the norms
// before it is skipped (no optimiser step), not only clipped. On War and Peace (2 hours,
// 2026-12-03 and -04) one passage, a table of letters and numbers spaced by runs of blanks,
// made the gradient 50-250 times its usual norm once per epoch from iteration ~16,000 on: the
// model is sure of itself and wrong at every step there. Clipping bounds such a step, but its
// direction still lands in the weights and in Adam's second moments, which remember it for
// ~1,000 steps; the runs crept off course and then exploded. The batch is rare, so skipping it
// loses nothing.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace charnn {

struct GradientBursts {
  // Weight of the newest norm in the running level: ~50 steps.
  static constexpr double kRate = 0.02;
  // No skipping before this many steps: norms fall fast at the start of a run.
  static constexpr std::int64_t kWarmup = 200;

  // Whether a step with gradient norm `norm` is a burst, more than `factor` times the running
  // level (a geometric mean, so a few bursts hardly move it). Updates `log_level` (NaN before
  // the first step). A burst moves the level as a norm of exactly factor x level would, so a
  // lasting rise of the norms (a new kind of text, a higher rate) lifts the level to them in
  // about log(rise / factor) / (kRate log factor) steps (~50 for a 100-fold rise at factor 10)
  // and stops being skipped; isolated bursts of a few steps lift it by a few percent.
  static bool step(double& log_level, double norm, double factor, std::int64_t steps_done) {
    const double x = std::log(std::max(norm, 1e-30));
    if (!std::isfinite(log_level)) {
      log_level = x;
      return false;
    }
    const double limit = log_level + std::log(factor);
    const bool burst = steps_done >= kWarmup && x > limit;
    log_level += kRate * (std::min(x, limit) - log_level);
    return burst;
  }
};

}  // namespace charnn
