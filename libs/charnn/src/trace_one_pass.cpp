// A trace in one pass with held-back region starts; see trace_one_pass.hpp.
#include "trace_one_pass.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

#include "trace_states.hpp"

namespace charnn::detail {

namespace {

// The rows of one stream of a pass ((T, n, .) with stream j at row t * n + j), gathered into
// (T, .) blocks and handed to the sink as one chunk.
class Gather {
 public:
  Gather(const Model& model, std::int64_t chunk, bool signals)
      : H_(model.hidden()), V_(model.vocab_size()), chunk_units_(chunk) {
    for (std::int32_t l = 0; l < model.num_layers(); ++l)
      signals_.emplace_back(signal_count(model, l, signals));
    chunk_.signals.resize(signals_.size());
  }

  // The first `count` rows of stream j of `out`, a pass over n streams, as units begin.. of the
  // text, in chunks of at most chunk_units_; `retract` takes them back.
  void deliver(const Model::TraceOutput& out, std::int64_t n, std::int64_t j, std::int64_t count,
               std::int64_t begin, bool retract,
               const std::function<void(const TraceChunk&)>& sink) {
    chunk_.retract = retract;
    for (std::int64_t from = 0; from < count; from += chunk_units_)
      piece(out, n, j, from, std::min(count - from, chunk_units_), begin + from, sink);
  }

 private:
  void piece(const Model::TraceOutput& out, std::int64_t n, std::int64_t j, std::int64_t from,
             std::int64_t T, std::int64_t begin,
             const std::function<void(const TraceChunk&)>& sink) {
    auto rows = [&](std::span<const float> all, std::int64_t width, std::vector<float>& into) {
      into.resize(static_cast<std::size_t>(T * width));
      for (std::int64_t t = 0; t < T; ++t)
        std::memcpy(into.data() + t * width, all.data() + ((from + t) * n + j) * width,
                    static_cast<std::size_t>(width) * sizeof(float));
      return std::span<const float>(into);
    };
    for (std::size_t l = 0; l < signals_.size(); ++l) {
      auto& spans = chunk_.signals[l];
      spans.clear();
      for (std::size_t k = 0; k < signals_[l].size(); ++k)
        spans.push_back(rows(out.signals[l][k], H_, signals_[l][k]));
    }
    chunk_.logits = rows(out.logits, V_, logits_);
    chunk_.begin = begin;
    chunk_.T = T;
    sink(chunk_);
  }

  const std::int64_t H_, V_, chunk_units_;
  std::vector<std::vector<std::vector<float>>> signals_;  // [l][k]: (T, H)
  std::vector<float> logits_;                             // (T, V)
  TraceChunk chunk_;
};

// Stream i of `from` for each i in `keep`, as a state of keep.size() streams.
Model::State keep_streams(const Model& model, const Model::State& from,
                          const std::vector<std::int64_t>& keep) {
  Model::State out = model.zero_state(static_cast<std::int64_t>(keep.size()));
  for (std::size_t i = 0; i < keep.size(); ++i)
    copy_stream(from, keep[i], out, static_cast<std::int64_t>(i), model.hidden());
  return out;
}

}  // namespace

bool one_pass_fits(std::int64_t units, const TraceOptions& options) {
  return options.streams >= 2 && (units + options.streams - 1) / options.streams >= kMinRegion;
}

bool trace_one_pass(Model& model, std::span<const std::int32_t> ids,
                    const std::function<void(const TraceChunk&)>& sink, const TraceOptions& options,
                    TraceStats& stats) {
  const auto total = static_cast<std::int64_t>(ids.size());
  const std::int64_t n = options.streams, H = model.hidden();
  const std::int64_t R = (total + n - 1) / n;  // every region but the last is R units long
  const std::int64_t T = rows_per_pass(n);
  const float tol = options.tolerance;
  auto region_end = [&](std::int64_t j) { return std::min((j + 1) * R, total); };
  std::vector<std::int32_t> scratch;
  Gather gather(model, options.chunk, options.signals);
  stats.streams = n;
  stats.units = total;
  stats.one_pass = true;

  // Warm-ups for regions 1.., side by side.
  Model::State st = model.zero_state(n);
  const std::int64_t W = std::min(options.warmup, R);
  if (W > 0) {
    std::vector<std::int64_t> from;
    for (std::int64_t j = 1; j < n; ++j) from.push_back(j * R - W);
    Model::State warm = model.zero_state(n - 1);
    advance_streams(model, ids, from, W, warm, scratch);
    for (std::int64_t j = 1; j < n; ++j) copy_stream(warm, j - 1, st, j, H);
    stats.warmup_units += W * (n - 1);
  }

  // The pass. hold[j]: the units at region j's start held back, decided once a probe run of the
  // region from the zero state agrees with the pass: twice as far, in whole passes. A probe that
  // has not agreed an eighth of a region in ends the pass, unless most regions' probes have: then
  // the stragglers probe on to half a region (a GRU trained on War and Peace had a few regions
  // agree at 4-5k units of 31k, where the other 28 agreed by 3k). -1 until then.
  const std::int64_t cap = std::max(T, R / 4 / T * T);
  const std::int64_t regions = n - 1;
  std::vector<std::int64_t> hold(static_cast<std::size_t>(n), -1), probing, from;
  hold[0] = 0;
  for (std::int64_t j = 0; j < n; ++j) from.push_back(j * R);
  for (std::int64_t j = 1; j < n; ++j) probing.push_back(j);
  Model::State probe = model.zero_state(n - 1);
  std::vector<Model::State> at_hold(static_cast<std::size_t>(n));  // the pass's state there
  std::vector<std::int64_t> probe_from;
  for (std::int64_t t0 = 0; t0 < R; t0 += T) {
    for (std::int64_t j = 1; j < n; ++j)
      if (hold[static_cast<std::size_t>(j)] == t0)
        at_hold[static_cast<std::size_t>(j)] = keep_streams(model, st, {j});
    const std::int64_t Tp = std::min(T, R - t0);
    fill_pass_ids(ids, from, t0, Tp, scratch);
    const Model::TraceOutput& out = model.trace(scratch, Tp, st, options.signals);
    for (std::int64_t j = 0; j < n; ++j) {
      const std::int64_t h = hold[static_cast<std::size_t>(j)];
      if (h >= 0 && t0 >= h)
        gather.deliver(out, n, j, std::min(Tp, region_end(j) - (j * R + t0)), j * R + t0, false,
                       sink);
    }
    if (probing.empty()) continue;
    probe_from.clear();
    for (std::int64_t j : probing) probe_from.push_back(j * R + t0);
    advance_streams(model, ids, probe_from, Tp, probe, scratch);
    stats.warmup_units += Tp * static_cast<std::int64_t>(probing.size());
    const std::int64_t twice = 2 * (t0 + Tp);
    const std::int64_t agreed = regions - static_cast<std::int64_t>(probing.size());
    const std::int64_t give_up = 2 * agreed >= regions ? 4 * cap : cap;  // twice this far in
    std::vector<std::int64_t> still, rows;
    for (std::size_t i = 0; i < probing.size(); ++i) {
      const std::int64_t j = probing[i];
      if (same_stream(probe, static_cast<std::int64_t>(i), st, j, H, tol)) {
        hold[static_cast<std::size_t>(j)] = std::min(cap, twice);
      } else if (twice >= give_up) {
        // A model that remembers this far (trained LSTMs on War and Peace and GRUs on Thai did)
        // would mend most regions: the caller traces it another way (trace.cpp: as one stream
        // where most probes are still apart), and stopping here wastes little.
        stats.restarted_at = j * R;
        stats.probes_agreed = agreed;
        stats.probe_regions = regions;
        stats.probed_units = t0 + Tp;
        return false;
      } else {
        still.push_back(j);
        rows.push_back(static_cast<std::int64_t>(i));
      }
    }
    if (still.size() < probing.size()) {
      probe = keep_streams(model, probe, rows);
      probing = std::move(still);
    }
  }

  // Each region's held-back start again from its true start, where the region before it ended
  // in the pass (st). The runs use the pass's batch (region j in row j, the same passes), so
  // their arithmetic is the pass's. A region whose state at the end of its hold differs from the
  // pass's there is mended: a second batch makes the pass's values again from that state (the
  // same arithmetic gives the same values) and takes them back, while the true run delivers, until
  // the two runs meet. The region then ends where it did in the pass, the next one's true start.
  // A region still mending a quarter of a region past its hold makes the caller start over.
  enum : char { kDone, kHeld, kMending };
  std::vector<char> phase(static_cast<std::size_t>(n), kDone);
  Model::State truth = model.zero_state(n), redo = model.zero_state(n);
  std::vector<std::int64_t> truth_from(static_cast<std::size_t>(n), total), redo_from = truth_from;
  for (std::int64_t j = 1; j < n; ++j) {
    copy_stream(st, j - 1, truth, j, H);
    truth_from[static_cast<std::size_t>(j)] = j * R;
    phase[static_cast<std::size_t>(j)] = kHeld;
  }
  for (std::int64_t t0 = 0; std::count(phase.begin(), phase.end(), kDone) < n; t0 += T) {
    const std::int64_t Tp = std::min(T, R - t0);
    auto rows_of = [&](std::int64_t j) { return std::min(Tp, region_end(j) - (j * R + t0)); };
    fill_pass_ids(ids, truth_from, t0, Tp, scratch);
    const Model::TraceOutput& out = model.trace(scratch, Tp, truth, options.signals);
    for (std::int64_t j = 1; j < n; ++j)
      if (phase[static_cast<std::size_t>(j)] != kDone) {
        gather.deliver(out, n, j, rows_of(j), j * R + t0, false, sink);
        stats.rerun_units += rows_of(j);
      }
    if (std::count(phase.begin(), phase.end(), kMending) > 0) {
      fill_pass_ids(ids, redo_from, t0, Tp, scratch);
      const Model::TraceOutput& again = model.trace(scratch, Tp, redo, options.signals);
      for (std::int64_t j = 1; j < n; ++j)
        if (phase[static_cast<std::size_t>(j)] == kMending) {
          gather.deliver(again, n, j, rows_of(j), j * R + t0, true, sink);
          stats.rerun_units += rows_of(j);
        }
    }
    const std::int64_t t = t0 + Tp;
    for (std::int64_t j = 1; j < n; ++j) {
      char& ph = phase[static_cast<std::size_t>(j)];
      if (ph == kHeld && t == hold[static_cast<std::size_t>(j)]) {
        if (same_stream(truth, j, at_hold[static_cast<std::size_t>(j)], 0, H, tol)) {
          ph = kDone;
        } else {
          ph = kMending;
          copy_stream(at_hold[static_cast<std::size_t>(j)], 0, redo, j, H);
          redo_from[static_cast<std::size_t>(j)] = j * R;
          ++stats.mended;
        }
      } else if (ph == kMending && same_stream(truth, j, redo, j, H, tol)) {
        ph = kDone;
      }
      if (ph == kDone) {
        truth_from[static_cast<std::size_t>(j)] = redo_from[static_cast<std::size_t>(j)] = total;
      } else if (j * R + t >= region_end(j) || t - hold[static_cast<std::size_t>(j)] >= cap) {
        // Mending runs two batches for as long as the slowest region needs: past a quarter of a
        // region, two passes cost less.
        stats.restarted_at = j * R;
        return false;
      }
    }
  }
  stats.reruns = n - 1;
  stats.seams = n - 1;
  return true;
}

}  // namespace charnn::detail
