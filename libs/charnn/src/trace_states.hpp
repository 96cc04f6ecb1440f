// The first of a trace's two passes (trace.hpp): the state one stream carried over the whole
// text has at every `spacing`-th unit of a stretch, found by running the state alone (no
// signals, no output layer) in several streams side by side. Internal to the library.
//
// Each stream but the first starts from a warm-up over the units before it. Where that start
// differs from the end the stream before reached (beyond `tolerance`, relative to
// max(1, |value|)), the stream runs again from that end, side by side with the others that
// differ, until its states agree with the ones it found before: from there on they were right.
// Rounds repeat until every seam agrees, so each state is within the tolerance of the true one
// whatever the model remembers. A stream that runs its whole length without agreeing means a
// model that remembers further back than a stream is long: finding the rest of the states one
// stream after the other would cost as much as tracing the rest as one stream, which then needs
// no second pass, so the finder stops at the first seam still apart and trace_text traces the
// text from there as one stream. Probes tell that sooner: an eighth of the way into the first
// pass (one interval at least), each stream from its warm-up against the same stream from the
// zero state; where most pairs are still apart, the model carries its state far in most places
// (as the one pass's probes judge, trace_one_pass.hpp), and the finder gives way there, before
// the pass and any seam's re-run have run their streams to the end.
#pragma once

#include <charnn/model.hpp>
#include <charnn/trace.hpp>

#include <cstdint>
#include <limits>
#include <span>
#include <vector>

namespace charnn::detail {

// Rows per batched pass (steps x streams): enough for the products to be matrix products, few
// enough that a pass's own buffers stay a few MB per layer.
inline constexpr std::int64_t kPassRows = 1024;
// Rows each of n streams runs per batched pass.
inline std::int64_t rows_per_pass(std::int64_t n) {
  return n >= kPassRows ? 1 : kPassRows / n;
}
// How many signals of layer l a trace's chunks carry: every one, or none when only the logits
// are wanted (TraceOptions::signals).
inline std::size_t signal_count(const Model& model, std::int32_t l, bool signals) {
  return signals ? model.layer(l).signals().size() : 0;
}
// The ids of `count` rows of a pass, time-major: stream i reads units from[i] + t0 .. (units
// past the text read as id 0, their rows unused).
void fill_pass_ids(std::span<const std::int32_t> ids, const std::vector<std::int64_t>& from,
                   std::int64_t t0, std::int64_t count, std::vector<std::int32_t>& out);

// Stream i of `from` into stream j of `to`; both states of one model (layer l: (S_l, N, H)).
void copy_stream(const Model::State& from, std::int64_t i, Model::State& to, std::int64_t j,
                 std::int64_t H);
// Whether stream i of a and stream j of b agree within tol relative to max(1, |b|). Two NaNs
// agree: a model that produces them would otherwise never converge.
bool same_stream(const Model::State& a, std::int64_t i, const Model::State& b, std::int64_t j,
                 std::int64_t H, float tol);

// Advances stream i of `st` over the `length` units of `ids` from unit from[i], all side by side
// in passes of kPassRows rows (units past the text read as id 0). scratch: the passes' ids.
void advance_streams(Model& model, std::span<const std::int32_t> ids,
                     const std::vector<std::int64_t>& from, std::int64_t length, Model::State& st,
                     std::vector<std::int32_t>& scratch);

class StateFinder {
 public:
  StateFinder(Model& model, std::span<const std::int32_t> ids) : model_(model), ids_(ids) {}

  // The states at begin + k * spacing for k = 0 .. count (the last one where the stretch ends,
  // which may lie past the text: then it is not meaningful), from `first`, the true state at
  // begin. `streams` side by side (1 = one stream); the stats count seams, re-runs and
  // warm-ups. Returns how far they are right: the states at k = 0 .. the returned value, which
  // is count unless a stream ran its whole length without agreeing (outremembered()).
  std::int64_t find(std::int64_t begin, std::int64_t spacing, std::int64_t count,
                    std::int64_t streams, std::int64_t warmup, float tolerance,
                    const Model::State& first, TraceStats& stats);
  // Whether the last find() met a stream that ran its whole length without agreeing.
  bool outremembered() const { return outremembered_; }

  // The state at checkpoint k, into stream j of `to`.
  void copy_to(std::int64_t k, Model::State& to, std::int64_t j) const;

 private:
  // Runs the given streams side by side from their first checkpoint, storing the states at
  // their checkpoints. With `check`, a stream stops storing once a state agrees with the one
  // stored (it was right from there on). Returns whether every stream agreed before its end
  // (always true without `check`), and adds the units run to `units`. Runs intervals
  // [first, stop) only (the first pass in two parts, around its probes; a stream starts from its
  // state at `first`).
  bool run(const std::vector<std::int64_t>& which, bool check, float tolerance, std::int64_t& units,
           std::int64_t first = 0, std::int64_t stop = std::numeric_limits<std::int64_t>::max());
  void advance(const std::vector<std::int64_t>& from, std::int64_t length, Model::State& st) {
    advance_streams(model_, ids_, from, length, st, pass_ids_);
  }

  Model& model_;
  std::span<const std::int32_t> ids_;
  std::int64_t begin_ = 0, spacing_ = 0, count_ = 0, per_stream_ = 0;
  bool outremembered_ = false;
  // table_[k]: the state at checkpoint k; end_[j]: where stream j ended (checkpoint
  // (j + 1) * per_stream_, as stream j found it).
  std::vector<Model::State> table_, end_;
  std::vector<std::int32_t> pass_ids_;
};

}  // namespace charnn::detail
