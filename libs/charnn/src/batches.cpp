// N streams x T steps over the training split; see batches.hpp.
#include "charnn/batches.hpp"
#include "util.hpp"

#include <charnn/error.hpp>

#include <algorithm>
#include <string>

namespace charnn {

namespace {
using detail::splitmix64;
}  // namespace

Batches::Batches(std::span<const std::int32_t> ids, std::int64_t N, std::int64_t T,
                 std::uint64_t seed)
    : ids_(ids), N_(N), T_(T), L_(0), segments_(0), seed_(seed) {
  if (N < 1 || T < 1)
    throw error("batch size and segment length must be at least 1 (got --batch " +
                std::to_string(N) + ", --seq-len " + std::to_string(T) + ")");
  const std::int64_t size = static_cast<std::int64_t>(ids.size());
  // Stream n covers ids[n*L, (n+1)*L]; the last unit of one stream is only ever a target.
  L_ = size > 0 ? (size - 1) / N : 0;
  // Epoch offsets go up to `slack` (T-1 when the streams are long enough), and S segments
  // need slack + S*T <= L.
  slack_ = L_ >= T ? std::min(T - 1, L_ - T) : 0;
  segments_ = L_ >= T ? (L_ - slack_) / T : 0;
  if (segments_ < 1)
    throw error("the training text has " + std::to_string(size) + " units, too few for --batch " +
                    std::to_string(N) + " streams of --seq-len " + std::to_string(T) +
                    " (needs at least " + std::to_string(N * T + 1) + ")",
                "use a longer corpus or a smaller --batch / --seq-len");
}

std::int64_t Batches::offset(std::int64_t epoch) const {
  if (epoch == 0 || slack_ == 0) return 0;
  return static_cast<std::int64_t>(
      splitmix64(seed_ ^ (0x5851f42d4c957f2dull * static_cast<std::uint64_t>(epoch))) %
      static_cast<std::uint64_t>(slack_ + 1));
}

void Batches::fill(const DataPosition& position, std::int32_t* inputs,
                   std::int32_t* targets) const {
  const std::int64_t start = offset(position.epoch) + position.segment * T_;
  for (std::int64_t t = 0; t < T_; ++t) {
    for (std::int64_t n = 0; n < N_; ++n) {
      const std::int64_t p = n * L_ + start + t;
      inputs[t * N_ + n] = ids_[static_cast<std::size_t>(p)];
      targets[t * N_ + n] = ids_[static_cast<std::size_t>(p + 1)];
    }
  }
}

DataPosition Batches::next(const DataPosition& position) const {
  DataPosition p = position;
  if (++p.segment >= segments_) {
    p.segment = 0;
    ++p.epoch;
  }
  return p;
}

double Batches::epoch_fraction(const DataPosition& position) const {
  return static_cast<double>(position.epoch) +
         static_cast<double>(position.segment) / static_cast<double>(segments_);
}

}  // namespace charnn
