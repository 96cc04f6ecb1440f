// The learning-rate check's detector. See lr_check.hpp.
#include "charnn/lr_check.hpp"

#include "train_banner.hpp"

#include <algorithm>
#include <cmath>

namespace charnn {

bool LossRiseDetector::add(std::int64_t step, double loss) {
  if (risen_) return true;
  if (!std::isfinite(loss) || loss > lowest_ + margin_) {
    risen_loss_ = loss;
    risen_step_ = step;
    return risen_ = true;
  }
  lowest_ = std::min(lowest_, loss);
  return false;
}

std::string LossRiseDetector::why() const {
  if (!risen_) return {};
  const std::string at = "the loss at step " + std::to_string(risen_step_) + " was " +
                         detail::fixed(risen_loss_, 2);
  return std::isfinite(risen_loss_) && std::isfinite(lowest_)
             ? at + ", above " + detail::fixed(lowest_, 2) + " at its lowest"
             : at;
}

std::int64_t lr_check_steps(std::int64_t warmup) {
  const std::int64_t w = std::max<std::int64_t>(0, warmup);
  return w + std::max<std::int64_t>(50, w / 2);
}

}  // namespace charnn
