// A trace in one pass, for a sink that takes the units in any order (trace_text_any_order,
// trace.hpp). Internal to the library.
//
// The text is cut into `streams` regions that run side by side, each but the first from a
// warm-up, with every signal delivered as it is computed: no first pass for the states and no
// store. The start of each region but the first is held back. Beside the pass, a probe runs the
// region's state alone from the zero state; once the probe agrees with the pass (within
// `tolerance`, relative to max(1, |value|)), the region holds back twice that many units, in
// whole passes, and delivers the rest. A probe that still disagrees an eighth of a region in
// means a model that remembers far back: the pass stops there and the caller starts over, as one
// stream where most probes were still apart, in two passes otherwise.
//
// After the pass, each region runs its held-back units again from where the region before it
// ended (its true start) and delivers them; its state at the end of the hold must agree with the
// pass's there, and from that point on the pass's values were those of one stream. Where it
// does not, the model remembers further back than the probe saw, and the region is mended: the
// pass's values from the end of the hold on are made again, with the pass's own arithmetic, and
// taken back (TraceChunk::retract) while the true run delivers, until the two runs meet. A
// region still mending a quarter of a region past its hold (a model that remembers that far, or
// never forgets) makes the caller start over in two passes, which then cost less.
#pragma once

#include <charnn/model.hpp>
#include <charnn/trace.hpp>

#include <cstdint>
#include <functional>
#include <span>

namespace charnn::detail {

// Shorter regions would spend too much of the pass holding back: the text then goes to
// trace_text's two passes.
inline constexpr std::int64_t kMinRegion = 8192;

// Whether a text of `units` units is long enough for one pass with these options.
bool one_pass_fits(std::int64_t units, const TraceOptions& options);

// Delivers every unit once, in any order, with retractions. Returns false when a region's true
// run did not meet the pass's within a quarter of a region (the sink then has wrong values).
// Fills the stats.
bool trace_one_pass(Model& model, std::span<const std::int32_t> ids,
                    const std::function<void(const TraceChunk&)>& sink, const TraceOptions& options,
                    TraceStats& stats);

}  // namespace charnn::detail
