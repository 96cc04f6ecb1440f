// Tracing a text: every layer's signals (h; for an LSTM also c and the gates) for each unit of a
// long text, as one stream carried from the zero state over the whole text computes them,
// delivered to a sink chunk by chunk and in order. dump and inspect read their traces here.
//
// One stream runs one unit per step, and each step's recurrent product is then a matrix-vector
// product that reads every weight for a single unit. So the text is cut into blocks of
// `streams` consecutive segments, which run side by side as one batch:
//   - segment 0 of a block starts from the true state, where the previous block ended;
//   - every other segment starts from the state a warm-up over the `warmup` units before it
//     reaches from the zero state (most units forget within a few hundred units);
//   - after the block, each seam is checked: the state segment n started from against the state
//     segment n-1 ended in, which is the true one. Where any state value differs by more than
//     `tolerance` (relative to max(1, |value|)), segment n runs again from the true state, and
//     so on until every seam agrees;
//   - where most seams of a block disagree, the model remembers further back than the warm-up
//     (a trained LSTM's cell state can carry a quote or a count over thousands of units), and
//     re-runs would cost more than they save: the rest of the text runs as one stream, from
//     where the last agreeing segment ended.
// So each segment starts within the tolerance of its true state, whatever the model remembers;
// a model that does not forget costs speed, never accuracy. Memory is bounded by one block's
// trace (memory_mb), never by the length of the text.
#pragma once

#include <charnn/model.hpp>

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace charnn {

struct TraceChunk {
  std::int64_t begin = 0;  // index of the chunk's first unit in the text
  std::int64_t T = 0;      // units in this chunk
  // signals[l][k]: (T, H) values of layer l's k-th signal (names: model.layer(l).signals()[k])
  std::vector<std::vector<std::span<const float>>> signals;
  std::span<const float> logits;  // (T, V): row t predicts unit begin + t + 1
};

struct TraceOptions {
  std::int64_t streams = 32;    // segments run side by side; 1 = one stream, no seams
  std::int64_t warmup = 256;    // units a segment's warm-up runs before it
  std::int64_t chunk = 128;     // units per sink call (and per batched pass)
  std::int64_t memory_mb = 256; // for one block's trace; sets the segment length
  float tolerance = 1e-5f;      // largest state difference accepted at a seam
};

struct TraceStats {
  std::int64_t units = 0;         // units of the text delivered
  std::int64_t streams = 0;       // the most segments one block ran side by side
  std::int64_t seams = 0;         // seams checked
  std::int64_t reruns = 0;        // segments run again from the true state
  std::int64_t warmup_units = 0;  // units run for warm-ups
  std::int64_t rerun_units = 0;   // units run again, or run and dropped before one stream
  std::int64_t one_stream_from = -1;  // where the rest of the text began to run as one stream
  std::int64_t warmup = 0;        // the options' warm-up, for describe()
};

// For logs and reports: "one stream", "32 segments side by side; 97 seams, 2 traced again;
// warm-ups and re-runs added 12% to the work", or "one stream from unit 336: the model
// remembers further back than a 256-unit warm-up, so ...".
std::string describe(const TraceStats& stats);

// Throws charnn::error for options out of range and for ids outside the vocabulary.
TraceStats trace_text(Model& model, std::span<const std::int32_t> ids,
                      const std::function<void(const TraceChunk&)>& sink,
                      const TraceOptions& options = {});

// -log softmax(logits)[id] for one row of V logits, in nats (shifted by the largest logit).
double unit_nats(const float* logits, std::int32_t V, std::int32_t id);

// Scoring a text (charnn eval): the cross-entropy of every unit after the first, as one stream
// carried over the whole text predicts it, whatever the options (they decide the speed).
struct TextScore {
  double nats = 0;          // mean over the scored units; NaN for fewer than 2 units
  std::int64_t scored = 0;  // units predicted: units - 1
  TraceStats trace;
};
TextScore score_text(Model& model, std::span<const std::int32_t> ids,
                     const TraceOptions& options = {});

}  // namespace charnn
