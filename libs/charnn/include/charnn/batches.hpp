// Batches for truncated BPTT: the training ids are cut into N contiguous streams, and each
// segment is the next T steps of every stream, so the recurrent state carried from one segment
// to the next continues the same text. Each epoch starts the streams at a small offset in
// [0, T) (epoch 0 at 0; less when the streams are short), drawn from the run seed, so segment
// boundaries move between epochs. The position (epoch, segment) is all a checkpoint needs to
// continue exactly.
#pragma once

#include <cstdint>
#include <span>

namespace charnn {

struct DataPosition {
  std::int64_t epoch = 0;    // completed epochs
  std::int64_t segment = 0;  // next segment within the epoch, in [0, segments_per_epoch)
};

class Batches {
 public:
  // Throws charnn::error when ids is too short for N streams of at least T + 1 units.
  Batches(std::span<const std::int32_t> ids, std::int64_t N, std::int64_t T, std::uint64_t seed);

  std::int64_t N() const { return N_; }
  std::int64_t T() const { return T_; }
  std::int64_t stream_length() const { return L_; }  // units per stream
  std::int64_t segments_per_epoch() const { return segments_; }
  std::int64_t units_per_segment() const { return N_ * T_; }
  // Where the streams start in that epoch: 0 for epoch 0, else in [0, min(T-1, L-T)].
  std::int64_t offset(std::int64_t epoch) const;

  // inputs, targets: (T, N) time-major; targets[t][n] is the unit after inputs[t][n].
  void fill(const DataPosition& position, std::int32_t* inputs, std::int32_t* targets) const;
  // The position after `position`; wraps to the next epoch (the caller resets the state then).
  DataPosition next(const DataPosition& position) const;
  double epoch_fraction(const DataPosition& position) const;  // epoch + segment / segments

 private:
  std::span<const std::int32_t> ids_;
  std::int64_t N_, T_, L_, segments_, slack_ = 0;  // slack_: largest epoch offset
  std::uint64_t seed_;
};

}  // namespace charnn
