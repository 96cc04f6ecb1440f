// Tracing a text: every layer's signals (h; for an LSTM also c and the gates) for each unit of a
// long text, as one stream carried from the zero state over the whole text computes them,
// delivered to a sink chunk by chunk and in order. dump and inspect read their traces here.
//
// One stream runs one unit per step, and each step's recurrent product is then a matrix-vector
// product that reads every weight for a single unit. So the text is cut into segments that run
// `streams` at a time as one batch, in two passes over stretches of up to streams x 64 segments:
//   - the states (trace_states.hpp): the stretch runs in `streams` long streams of the state
//     alone, each but the first from a `warmup` from the zero state, and keeps the state at
//     every segment's start. A stream whose start differs from where the one before it ended
//     (by more than `tolerance`, relative to max(1, |value|)) runs again from there until its
//     states agree with what it found before. A model that remembers further back than a
//     whole stream has the rest of the text traced as one stream, which costs less than
//     finding its states one stream after the other and then tracing them;
//   - the trace: the segments, `streams` at a time, from those states, every signal kept; each
//     seam is checked again and a segment that disagrees is traced again from the true state.
// So each segment starts within the tolerance of its true state, whatever the model remembers.
// Memory is bounded by one block's trace (memory_mb) and one state per segment of a stretch,
// never by the length of the text.
//
// A sink that takes the units in any order (inspect's statistics, eval's loss) needs only one
// pass: trace_text_any_order runs `streams` long regions side by side and delivers every signal
// as it is computed, except each region's start, held back for about as long as the model takes
// to forget it and run again at the end from where the region before it ended; values the pass
// delivered past a hold that fell short are taken back and delivered again
// (trace_one_pass.hpp). About half the work of two passes, and no store.
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
  // trace_text_any_order only: these exact values were delivered before for these units and are
  // taken back (the right ones come in another chunk, before or after). A sink that adds up
  // subtracts them; one that writes each unit in its place ignores the chunk.
  bool retract = false;
};

struct TraceOptions {
  std::int64_t streams = 32;    // segments run side by side; 1 = one stream, no seams
  std::int64_t warmup = 256;    // units a segment's warm-up runs before it
  std::int64_t chunk = 128;     // units per sink call (and per batched pass)
  std::int64_t memory_mb = 256; // for one block's trace; sets the segment length
  float tolerance = 1e-5f;      // largest state difference accepted at a seam
  // false: the chunks carry the logits alone (signals[l] empty), and the cells run their forward
  // pass instead of their trace (Model::trace's signals), which is all that scoring a text needs
  bool signals = true;
};

struct TraceStats {
  std::int64_t units = 0;         // units of the text delivered
  std::int64_t streams = 0;       // the most segments one block ran side by side
  std::int64_t seams = 0;         // first-pass seams checked
  std::int64_t reruns = 0;        // streams or segments run again from the true state
  std::int64_t warmup_units = 0;  // units run for warm-ups
  std::int64_t rerun_units = 0;   // units run again
  std::int64_t one_stream_from = -1;  // where the trace went on as one stream (outremembered)
  std::int64_t warmup = 0;        // the options' warm-up, for describe()
  bool one_pass = false;          // trace_text_any_order's one pass delivered the trace
  std::int64_t mended = 0;        // one pass: regions whose start reached past their hold
  // Where a region began whose start the model remembered too far back for one pass (which then
  // gave way to two passes, or to one stream, from the start); -1 when none did.
  std::int64_t restarted_at = -1;
  // When a one pass's probes gave way, or the two passes' probes ran (trace_states.hpp): how
  // many of its regions (streams) had forgotten their warm-up's start by then, out of how many,
  // and how many units into the regions that was.
  std::int64_t probes_agreed = 0, probe_regions = 0, probed_units = 0;
};

// For logs and reports: "one stream", or "32 segments side by side; 97 seams, 2 run again;
// warm-ups and re-runs added 12% to the work", with "; their start states found one after the
// other from unit 336: ..." when the first pass had to.
std::string describe(const TraceStats& stats);

// Throws charnn::error for options out of range and for ids outside the vocabulary.
TraceStats trace_text(Model& model, std::span<const std::int32_t> ids,
                      const std::function<void(const TraceChunk&)>& sink,
                      const TraceOptions& options = {});

// The same values, each unit delivered once but in any order, in one pass where the text is long
// enough (regions of at least 8,192 units; shorter texts take trace_text's two passes). Chunks
// with `retract` take back values given before. When the model remembers a region's start too
// far (an eighth of a region for its probe, or half a region once most probes have agreed; a
// quarter to mend it), `restart` is called: the sink forgets everything it was given, and the
// whole text comes again, in order, from trace_text: as one stream where most regions' probes
// were still apart (two passes would cost more), in two passes otherwise.
TraceStats trace_text_any_order(Model& model, std::span<const std::int32_t> ids,
                                const std::function<void(const TraceChunk&)>& sink,
                                const std::function<void()>& restart,
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
// `progress` (optional) is told the units scored so far and the text's: a one pass that gives
// way starts again from 0.
TextScore score_text(
    Model& model, std::span<const std::int32_t> ids, const TraceOptions& options = {},
    const std::function<void(std::int64_t done, std::int64_t total)>& progress = {});

}  // namespace charnn
