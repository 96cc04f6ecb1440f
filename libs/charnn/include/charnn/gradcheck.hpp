// The finite-difference gradient check of one cell layer, through the host's charnn::Cell only:
// `charnn check-cell` (cell_checks.hpp) reports it, and the test suite runs it on every plugin.
#pragma once

#include <charnn/cell.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace charnn {

// Finite differences against backward. The loss is L = sum(w * dst) + sum(v * state_out) with
// fixed random w (T, N, H) and v (S, N, H), so backward gets diff_dst = w and diff_state_out = v.
// Every parameter, input and initial-state element (or a random sample of a large tensor) is
// moved by +-eps in float, L is summed in double, and the central difference is compared with
// the analytic gradient by |analytic - numeric| / max(|analytic|, |numeric|, floor), the floor
// keeping float rounding on near-zero gradients from dominating.
struct GradcheckOptions {
  std::int64_t T = 3, N = 2;
  float eps = 1e-2f;
  double floor = 1e-2;
  std::int64_t max_per_tensor = 400;
  std::uint64_t seed = 42;
};

struct GradcheckResult {
  double max_rel_error = 0;  // over every element checked
  std::string worst;         // which element, with both values
  std::int64_t checked = 0;  // elements checked
  // Each tensor's own worst relative error, in the order checked ("param 'w_h'", ...), so that a
  // report can name every wrong tensor and not only the worst.
  std::vector<std::pair<std::string, double>> tensors;
};

struct GradcheckReport {
  GradcheckResult params, input, state;
  GradcheckResult overall() const;  // the worst of the three, checked summed
};

GradcheckReport gradcheck(Cell& cell, const GradcheckOptions& options = {});

}  // namespace charnn
