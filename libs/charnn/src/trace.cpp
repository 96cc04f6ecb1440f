// Tracing a text in blocks of side-by-side segments with checked seams; see trace.hpp.
#include "charnn/trace.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <string>

#include "charnn/error.hpp"
#include "charnn/fast_math.hpp"
#include "trace_one_pass.hpp"
#include "trace_states.hpp"

namespace charnn {

namespace {

using detail::copy_stream;
using detail::kPassRows;
using detail::same_stream;
using detail::signal_count;

// Segments per stream of the first pass: its stretches are S times this many segments long, and
// it keeps one state per segment (2x512 GRU: 4 KB each).
constexpr std::int64_t kCheckpointsPerStream = 64;

void check_options(const TraceOptions& o) {
  auto at_least = [](std::int64_t v, std::int64_t lo, const char* name) {
    if (v < lo)
      throw error(std::string("trace: ") + name + " must be at least " + std::to_string(lo) +
                  " (got " + std::to_string(v) + ")");
  };
  at_least(o.streams, 1, "streams");
  at_least(o.warmup, 0, "warmup");
  at_least(o.chunk, 1, "chunk");
  at_least(o.memory_mb, 1, "memory_mb");
  if (!(o.tolerance >= 0.0f && std::isfinite(o.tolerance)))
    throw error("trace: tolerance must be a finite number >= 0");
}

void check_ids(const Model& model, std::span<const std::int32_t> ids) {
  for (std::size_t u = 0; u < ids.size(); ++u)
    if (ids[u] < 0 || ids[u] >= model.vocab_size())
      throw error("trace: unit id " + std::to_string(ids[u]) + " at " + std::to_string(u) +
                  " is outside the vocabulary (size " + std::to_string(model.vocab_size()) + ")");
}

// The block being traced: its segments' places in the text, their start and end states, and
// their traces, each stream's stored contiguously (every signal (len, H), then logits (len, V)).
class Block {
 public:
  Block(Model& model, std::span<const std::int32_t> ids, bool signals)
      : model_(model), ids_(ids), H_(model.hidden()), V_(model.vocab_size()), signals_(signals) {}

  // Segments of len[n] units from begin[n] (consecutive); stream 0 starts from `first`.
  void reset(std::vector<std::int64_t> begin, std::vector<std::int64_t> len,
             const Model::State& first) {
    begin_ = std::move(begin);
    len_ = std::move(len);
    const auto n = static_cast<std::int64_t>(begin_.size());
    // Each stream's store: every signal (len, H), then the logits (len, V). The store keeps the
    // largest size a block has needed.
    offset_.clear();
    floats_ = 0;
    for (std::int32_t l = 0; l < model_.num_layers(); ++l)
      for (std::size_t k = 0; k < signal_count(model_, l, signals_); ++k) {
        offset_.push_back(floats_);
        floats_ += len_.front() * H_;
      }
    logits_ = floats_;
    floats_ += len_.front() * V_;
    if (store_.size() < static_cast<std::size_t>(n * floats_))
      store_.resize(static_cast<std::size_t>(n * floats_));
    start_ = model_.zero_state(n);
    end_ = model_.zero_state(n);
    copy_stream(first, 0, start_, 0, H_);
  }
  // Segment n starts from stream 0 of a one-stream state.
  void set_start(std::int64_t n, const Model::State& one) { copy_stream(one, 0, start_, n, H_); }
  std::int64_t streams() const { return static_cast<std::int64_t>(begin_.size()); }
  std::int64_t len() const { return len_.front(); }  // the longest: every stream but the last

  // Traces the given segments side by side from their start states into the store and their end
  // states. Returns the units run.
  std::int64_t run(const std::vector<std::int64_t>& which) {
    const auto n = static_cast<std::int64_t>(which.size());
    Model::State st = model_.zero_state(n);
    for (std::int64_t j = 0; j < n; ++j) copy_stream(start_, which[j], st, j, H_);
    const std::int64_t L = len(), T = detail::rows_per_pass(n);
    std::vector<std::int64_t> from;
    for (std::int64_t j : which) from.push_back(begin_[j]);
    for (std::int64_t t0 = 0; t0 < L; t0 += T) {
      const std::int64_t Tp = std::min(T, L - t0);
      // A shorter last segment reads on past the text's end: its rows are unused.
      detail::fill_pass_ids(ids_, from, t0, Tp, pass_ids_);
      const Model::TraceOutput& out = model_.trace(pass_ids_, Tp, st, signals_);
      keep(out, which, t0, Tp);
    }
    for (std::int64_t j = 0; j < n; ++j) copy_stream(st, j, end_, which[j], H_);
    return L * n;
  }

  // Segments whose start state differs from where the one before them ended.
  std::vector<std::int64_t> disagreeing(float tol) const {
    std::vector<std::int64_t> out;
    for (std::int64_t n = 1; n < streams(); ++n)
      if (!same_stream(start_, n, end_, n - 1, H_, tol)) out.push_back(n);
    return out;
  }
  // Segment n starts where segment n - 1 ended.
  void take_predecessor_end(std::int64_t n) { copy_stream(end_, n - 1, start_, n, H_); }

  // The trace of segments [0, count) in order, in chunks of at most `chunk` units.
  void deliver(std::int64_t count, std::int64_t chunk,
               const std::function<void(const TraceChunk&)>& sink) const {
    TraceChunk c;
    c.signals.resize(static_cast<std::size_t>(model_.num_layers()));
    for (std::int64_t n = 0; n < count; ++n) {
      const float* base = store_.data() + n * floats_;
      for (std::int64_t t0 = 0; t0 < len_[n]; t0 += chunk) {
        c.begin = begin_[n] + t0;
        c.T = std::min(chunk, len_[n] - t0);
        const auto rows = static_cast<std::size_t>(c.T * H_);
        std::size_t f = 0;
        for (std::int32_t l = 0; l < model_.num_layers(); ++l) {
          auto& layer = c.signals[static_cast<std::size_t>(l)];
          layer.clear();
          for (std::size_t k = 0; k < signal_count(model_, l, signals_); ++k)
            layer.emplace_back(base + offset_[f++] + t0 * H_, rows);
        }
        c.logits = std::span<const float>(base + logits_ + t0 * V_,
                                          static_cast<std::size_t>(c.T * V_));
        sink(c);
      }
    }
  }

  // Where segment n ended, into a one-stream state.
  void end_of(std::int64_t n, Model::State& out) const { copy_stream(end_, n, out, 0, H_); }

 private:
  // Rows t0.. of a pass over the segments `which` into their stores: the pass is (T, n, .)
  // with stream j at row t * n + j.
  void keep(const Model::TraceOutput& out, const std::vector<std::int64_t>& which, std::int64_t t0,
            std::int64_t T) {
    const auto n = static_cast<std::int64_t>(which.size());
    auto copy_rows = [&](const float* from, std::int64_t width, std::int64_t j, float* to) {
      for (std::int64_t t = 0; t < T; ++t)
        std::memcpy(to + (t0 + t) * width, from + (t * n + j) * width,
                    static_cast<std::size_t>(width) * sizeof(float));
    };
#pragma omp parallel for schedule(static)
    for (std::int64_t j = 0; j < n; ++j) {
      float* base = store_.data() + which[j] * floats_;
      std::size_t f = 0;
      for (const auto& layer : out.signals)
        for (const auto& signal : layer) copy_rows(signal.data(), H_, j, base + offset_[f++]);
      copy_rows(out.logits.data(), V_, j, base + logits_);
    }
  }

  Model& model_;
  std::span<const std::int32_t> ids_;
  const std::int64_t H_, V_;
  const bool signals_;
  std::vector<std::int64_t> offset_;  // per (layer, signal), in floats within a stream's store
  std::int64_t logits_ = 0, floats_ = 0;
  std::vector<float> store_;  // (streams, floats_)
  std::vector<std::int64_t> begin_, len_;
  Model::State start_, end_;
  std::vector<std::int32_t> pass_ids_;
};

}  // namespace

std::string describe(const TraceStats& s) {
  if (s.streams <= 1 && s.restarted_at < 0) return "one stream";
  if (s.streams <= 1)
    return "one stream: a one-pass trace gave way at unit " + std::to_string(s.restarted_at) +
           ", where " + std::to_string(s.probe_regions - s.probes_agreed) + " of " +
           std::to_string(s.probe_regions) + " regions still remembered their warm-up's start " +
           std::to_string(s.probed_units) +
           " units in: a model that remembers that far traces faster as one stream than in two "
           "passes";
  const double extra = 100.0 * static_cast<double>(s.warmup_units + s.rerun_units) /
                       static_cast<double>(std::max<std::int64_t>(1, s.units));
  char added[32];
  std::snprintf(added, sizeof added, "%.0f%%", extra);
  if (s.one_pass) {
    char again[32];
    std::snprintf(again, sizeof again, "%.1f%%",
                  100.0 * static_cast<double>(s.rerun_units) /
                      static_cast<double>(std::max<std::int64_t>(1, s.units)));
    std::string text = "one pass, " + std::to_string(s.streams) +
                       " regions side by side; their starts run again from the true states (" +
                       again + " of the text";
    if (s.mended > 0)
      text += "; " + std::to_string(s.mended) + " mended where the model remembered further";
    return text + "); warm-ups, probes and re-runs added " + added + " to the work";
  }
  std::string text = std::to_string(s.streams) + " segments side by side; " +
                     std::to_string(s.seams) + " seams, " + std::to_string(s.reruns) +
                     " run again; warm-ups and re-runs added " + added + " to the work";
  if (s.one_stream_from >= 0)
    text += "; one stream from unit " + std::to_string(s.one_stream_from) +
            ": the model remembers further back than a " + std::to_string(s.warmup) +
            "-unit warm-up and a stretch of text";
  if (s.restarted_at >= 0)
    text += "; a one-pass trace gave way to this at unit " + std::to_string(s.restarted_at) +
            ", whose start the model remembered too far back for one pass";
  if (s.probe_regions > 0)
    text += " (" + std::to_string(s.probes_agreed) + " of " + std::to_string(s.probe_regions) +
            " regions had forgotten their warm-up's start " + std::to_string(s.probed_units) +
            " units in)";
  return text;
}

TraceStats trace_text(Model& model, std::span<const std::int32_t> ids,
                      const std::function<void(const TraceChunk&)>& sink,
                      const TraceOptions& options) {
  check_options(options);
  TraceStats stats;
  stats.warmup = options.warmup;
  const auto total = static_cast<std::int64_t>(ids.size());
  if (total == 0) return stats;
  check_ids(model, ids);

  // The longest segment the memory allows for a full block: the store holds every signal and
  // the logits of each of its units.
  std::int64_t floats_per_unit = model.vocab_size();
  for (std::int32_t l = 0; l < model.num_layers(); ++l)
    floats_per_unit +=
        static_cast<std::int64_t>(signal_count(model, l, options.signals)) * model.hidden();
  const std::int64_t S = options.streams;
  const std::int64_t budget = options.memory_mb * (std::int64_t{1} << 20) / 4;
  const std::int64_t seg = std::max<std::int64_t>(budget / (S * floats_per_unit), 1);
  Block block(model, ids, options.signals);
  Model::State state = model.zero_state(1);  // where the next block or stretch starts

  // The text from b0 on as one stream: no seams, and no store beyond a pass.
  auto one_stream = [&](std::int64_t b0) {
    for (; b0 < total;) {
      const std::int64_t len = std::min({seg, kPassRows, total - b0});
      block.reset({b0}, {len}, state);
      block.run({0});
      block.deliver(1, options.chunk, sink);
      block.end_of(0, state);
      b0 += len;
    }
    stats.units = total;
    stats.streams = std::max<std::int64_t>(stats.streams, 1);
  };
  if (S == 1) {
    one_stream(0);
    return stats;
  }

  // Stretches of up to S x kCheckpointsPerStream segments. A first pass finds the state at each
  // segment's start (trace_states.hpp); the second traces the segments S at a time from those
  // states and checks each seam once more against where the segment before it ended. Once the
  // model outremembers a first-pass stream, the rest of the text runs as one stream.
  detail::StateFinder finder(model, ids);
  Model::State one = model.zero_state(1);
  for (std::int64_t b0 = 0; b0 < total;) {
    if (stats.one_stream_from >= 0) {
      one_stream(b0);
      break;
    }
    const std::int64_t rest = total - b0;
    const std::int64_t len = std::min(seg, (rest + S - 1) / S);
    // The rest of a long text goes into the last stretch, not into a short one after it: a
    // first-pass stream needs room for a seam's re-run to agree before it ends. With streams of
    // 8 segments (4,000 units) a 2x512 GRU trained on War and Peace did not agree within 1e-5
    // at the end of the book; with 64 it always did.
    std::int64_t count = (rest + len - 1) / len;
    if (count > 2 * S * kCheckpointsPerStream) count = S * kCheckpointsPerStream;
    const std::int64_t right =
        finder.find(b0, len, count, S, options.warmup, options.tolerance, state, stats);
    if (finder.outremembered()) stats.one_stream_from = std::min(b0 + right * len, total);
    for (std::int64_t k0 = 0; k0 < right; k0 += S) {
      const std::int64_t n = std::min(S, right - k0);
      std::vector<std::int64_t> begin, lens;
      for (std::int64_t k = 0; k < n; ++k) {
        begin.push_back(b0 + (k0 + k) * len);
        lens.push_back(std::min(len, total - begin.back()));
      }
      finder.copy_to(k0, one, 0);
      block.reset(begin, lens, one);
      for (std::int64_t k = 1; k < n; ++k) {
        finder.copy_to(k0 + k, one, 0);
        block.set_start(k, one);
      }
      std::vector<std::int64_t> all(static_cast<std::size_t>(n));
      std::iota(all.begin(), all.end(), std::int64_t{0});
      block.run(all);
      // The first pass's states agree; a difference here is the two passes' arithmetic.
      for (auto redo = block.disagreeing(options.tolerance); !redo.empty();
           redo = block.disagreeing(options.tolerance)) {
        for (std::int64_t k : redo) block.take_predecessor_end(k);
        stats.rerun_units += block.run(redo);
        stats.reruns += static_cast<std::int64_t>(redo.size());
      }
      block.deliver(n, options.chunk, sink);
      stats.streams = std::max(stats.streams, n);
    }
    finder.copy_to(right, state, 0);
    b0 += right * len;
    stats.units = std::min(b0, total);
  }
  return stats;
}

TraceStats trace_text_any_order(Model& model, std::span<const std::int32_t> ids,
                                const std::function<void(const TraceChunk&)>& sink,
                                const std::function<void()>& restart, const TraceOptions& options) {
  check_options(options);
  const auto total = static_cast<std::int64_t>(ids.size());
  if (!detail::one_pass_fits(total, options)) return trace_text(model, ids, sink, options);
  check_ids(model, ids);
  TraceStats stats;
  stats.warmup = options.warmup;
  if (detail::trace_one_pass(model, ids, sink, options, stats)) return stats;
  restart();
  // Where most regions' probes still disagreed an eighth of a region in, the model carries its
  // start far in most places: two passes would find the states one stream after the other, at
  // more cost than one stream (bench/RESULTS.md, "inspect of models that remember far back").
  TraceOptions next = options;
  if (2 * stats.probes_agreed < stats.probe_regions) next.streams = 1;
  TraceStats again = trace_text(model, ids, sink, next);
  again.restarted_at = stats.restarted_at;
  again.probes_agreed = stats.probes_agreed;
  again.probe_regions = stats.probe_regions;
  again.probed_units = stats.probed_units;
  // The abandoned pass was work too: up to where the probes gave way, or the whole text.
  again.rerun_units +=
      (stats.probe_regions > 0 ? stats.probed_units * options.streams : total) + stats.rerun_units;
  again.warmup_units += stats.warmup_units;
  return again;
}

double unit_nats(const float* z, std::int32_t V, std::int32_t id) {
  float zmax = z[0];
#pragma omp simd reduction(max : zmax)
  for (std::int32_t v = 1; v < V; ++v) zmax = z[v] > zmax ? z[v] : zmax;
  // As in training's softmax: terms in (0, 1], a float sum, the log in double. The scalar
  // double exp was a tenth of eval's time at 5,000 units.
  float sum = 0;
#pragma omp simd reduction(+ : sum)
  for (std::int32_t v = 0; v < V; ++v) sum += math::fast_exp(z[v] - zmax);
  return std::log(static_cast<double>(sum)) + zmax - z[id];
}

TextScore score_text(Model& model, std::span<const std::int32_t> ids, const TraceOptions& options,
                     const std::function<void(std::int64_t, std::int64_t)>& progress) {
  TextScore score;
  const auto n = static_cast<std::int64_t>(ids.size());
  if (n < 2) {
    score.nats = std::nan("");
    return score;
  }
  const std::int32_t V = model.vocab_size();
  double sum = 0;
  std::int64_t delivered = 0;  // units, for progress
  std::vector<double> row_nats;
  // Row t of a chunk predicts unit begin + t + 1; the last unit predicts nothing.
  TraceOptions logits_only = options;
  logits_only.signals = false;
  score.trace = trace_text_any_order(
      model, ids,
      [&](const TraceChunk& c) {
        // Each row on any thread (over thousands of units the softmax is a tenth of the work),
        // summed in order, so that the figure does not depend on the thread count.
        const std::int64_t rows = std::min(c.T, n - 1 - c.begin);
        row_nats.resize(static_cast<std::size_t>(std::max<std::int64_t>(rows, 0)));
#pragma omp parallel for schedule(static) if (rows * V > 65536)
        for (std::int64_t t = 0; t < rows; ++t)
          row_nats[static_cast<std::size_t>(t)] =
              unit_nats(c.logits.data() + t * V, V, ids[static_cast<std::size_t>(c.begin + t + 1)]);
        double chunk_sum = 0;
        for (double r : row_nats) chunk_sum += r;
        sum += c.retract ? -chunk_sum : chunk_sum;
        delivered += c.retract ? -c.T : c.T;
        if (progress) progress(delivered, n);
      },
      [&] { sum = 0, delivered = 0; }, logits_only);
  score.scored = n - 1;
  score.nats = sum / static_cast<double>(n - 1);
  return score;
}

}  // namespace charnn
