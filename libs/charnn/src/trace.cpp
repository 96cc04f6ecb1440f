// Tracing a text in blocks of side-by-side segments with checked seams; see trace.hpp.
#include "charnn/trace.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>

#include "charnn/error.hpp"

namespace charnn {

namespace {

// Rows per batched pass (steps x streams): enough for the products to be matrix products, few
// enough that a pass's own buffers stay a few MB per layer.
constexpr std::int64_t kPassRows = 1024;

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

// One stream's slice of a State for N streams: layer l holds (S_l, N, H).
void copy_stream(const Model::State& from, std::int64_t i, Model::State& to, std::int64_t j,
                 std::int64_t H) {
  for (std::size_t l = 0; l < from.layers.size(); ++l) {
    const auto S = static_cast<std::int64_t>(from.layers[l].size()) / (from.N * H);
    for (std::int64_t s = 0; s < S; ++s)
      std::memcpy(to.layers[l].data() + (s * to.N + j) * H,
                  from.layers[l].data() + (s * from.N + i) * H,
                  static_cast<std::size_t>(H) * sizeof(float));
  }
}

// Whether stream i of a and stream j of b agree within tol relative to max(1, |b|). Two NaNs
// agree: a model that produces them would otherwise never converge.
bool same_stream(const Model::State& a, std::int64_t i, const Model::State& b, std::int64_t j,
                 std::int64_t H, float tol) {
  for (std::size_t l = 0; l < a.layers.size(); ++l) {
    const auto S = static_cast<std::int64_t>(a.layers[l].size()) / (a.N * H);
    for (std::int64_t s = 0; s < S; ++s) {
      const float* x = a.layers[l].data() + (s * a.N + i) * H;
      const float* y = b.layers[l].data() + (s * b.N + j) * H;
      for (std::int64_t h = 0; h < H; ++h) {
        if (std::isnan(x[h]) && std::isnan(y[h])) continue;
        if (!(std::fabs(x[h] - y[h]) <= tol * std::max(1.0f, std::fabs(y[h])))) return false;
      }
    }
  }
  return true;
}

// The block being traced: its segments' places in the text, their start and end states, and
// their traces, each stream's stored contiguously (every signal (len, H), then logits (len, V)).
class Block {
 public:
  Block(Model& model, std::span<const std::int32_t> ids)
      : model_(model), ids_(ids), H_(model.hidden()), V_(model.vocab_size()) {}

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
      for (std::size_t k = 0; k < model_.layer(l).signals().size(); ++k) {
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
  std::int64_t streams() const { return static_cast<std::int64_t>(begin_.size()); }
  std::int64_t len() const { return len_.front(); }  // the longest: every stream but the last

  // Start states of segments 1.. from `warmup` units before each, run from the zero state (fewer
  // where the text begins sooner: a warm-up from the text's start is exact). Returns the units
  // run.
  std::int64_t warm_up(std::int64_t warmup) {
    const std::int64_t n = streams() - 1;
    if (n < 1) return 0;
    warmup = std::min(warmup, begin_[1]);
    if (warmup < 1) return 0;
    Model::State st = model_.zero_state(n);
    const std::int64_t T = std::max<std::int64_t>(1, kPassRows / n);
    for (std::int64_t t0 = 0; t0 < warmup; t0 += T) {
      const std::int64_t Tp = std::min(T, warmup - t0);
      pass_ids_.resize(static_cast<std::size_t>(Tp * n));
      for (std::int64_t t = 0; t < Tp; ++t)
        for (std::int64_t j = 0; j < n; ++j)
          pass_ids_[static_cast<std::size_t>(t * n + j)] = id(begin_[j + 1] - warmup + t0 + t);
      model_.advance(pass_ids_, Tp, st);
    }
    for (std::int64_t j = 0; j < n; ++j) copy_stream(st, j, start_, j + 1, H_);
    return warmup * n;
  }

  // Traces the given segments side by side from their start states into the store and their end
  // states. Returns the units run.
  std::int64_t run(const std::vector<std::int64_t>& which) {
    const auto n = static_cast<std::int64_t>(which.size());
    Model::State st = model_.zero_state(n);
    for (std::int64_t j = 0; j < n; ++j) copy_stream(start_, which[j], st, j, H_);
    const std::int64_t L = len(), T = std::max<std::int64_t>(1, kPassRows / n);
    for (std::int64_t t0 = 0; t0 < L; t0 += T) {
      const std::int64_t Tp = std::min(T, L - t0);
      pass_ids_.resize(static_cast<std::size_t>(Tp * n));
      // A shorter last segment reads on past the text's end: any valid id, its rows unused.
      for (std::int64_t t = 0; t < Tp; ++t)
        for (std::int64_t j = 0; j < n; ++j) {
          const std::int64_t u = begin_[which[j]] + t0 + t;
          pass_ids_[static_cast<std::size_t>(t * n + j)] =
              u < static_cast<std::int64_t>(ids_.size()) ? id(u) : 0;
        }
      const Model::TraceOutput& out = model_.trace(pass_ids_, Tp, st);
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
          for (std::size_t k = 0; k < model_.layer(l).signals().size(); ++k)
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
  std::int32_t id(std::int64_t u) const { return ids_[static_cast<std::size_t>(u)]; }

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
  std::vector<std::int64_t> offset_;  // per (layer, signal), in floats within a stream's store
  std::int64_t logits_ = 0, floats_ = 0;
  std::vector<float> store_;  // (streams, floats_)
  std::vector<std::int64_t> begin_, len_;
  Model::State start_, end_;
  std::vector<std::int32_t> pass_ids_;
};

}  // namespace

std::string describe(const TraceStats& s) {
  if (s.one_stream_from >= 0)
    return "one stream from unit " + std::to_string(s.one_stream_from) +
           ": the model remembers further back than a " + std::to_string(s.warmup) +
           "-unit warm-up, so segments side by side would not match it";
  if (s.streams <= 1) return "one stream";
  const double extra = 100.0 * static_cast<double>(s.warmup_units + s.rerun_units) /
                       static_cast<double>(std::max<std::int64_t>(1, s.units));
  char added[32];
  std::snprintf(added, sizeof added, "%.0f%%", extra);
  return std::to_string(s.streams) + " segments side by side; " + std::to_string(s.seams) +
         " seams, " + std::to_string(s.reruns) + " traced again; warm-ups and re-runs added " +
         added + " to the work";
}

TraceStats trace_text(Model& model, std::span<const std::int32_t> ids,
                      const std::function<void(const TraceChunk&)>& sink,
                      const TraceOptions& options) {
  check_options(options);
  TraceStats stats;
  stats.warmup = options.warmup;
  const auto total = static_cast<std::int64_t>(ids.size());
  if (total == 0) return stats;
  for (std::size_t u = 0; u < ids.size(); ++u)
    if (ids[u] < 0 || ids[u] >= model.vocab_size())
      throw error("trace: unit id " + std::to_string(ids[u]) + " at " + std::to_string(u) +
                  " is outside the vocabulary (size " + std::to_string(model.vocab_size()) + ")");

  // The longest segment the memory allows for a full block: the store holds every signal and
  // the logits of each of its units.
  std::int64_t floats_per_unit = model.vocab_size();
  for (std::int32_t l = 0; l < model.num_layers(); ++l)
    floats_per_unit += static_cast<std::int64_t>(model.layer(l).signals().size()) * model.hidden();
  std::int64_t S = options.streams;
  const std::int64_t W = options.warmup;
  const std::int64_t budget = options.memory_mb * (std::int64_t{1} << 20) / 4;
  const std::int64_t seg = std::max<std::int64_t>(budget / (S * floats_per_unit), 1);
  Block block(model, ids);

  Model::State state = model.zero_state(1);  // where the next block starts
  for (std::int64_t b0 = 0; b0 < total;) {
    const std::int64_t rest = total - b0;
    // A full block, or the rest in as many segments as fit the store, and more while each stays
    // at least a warm-up and a chunk long (shorter ones only add seams).
    std::int64_t n = S, len = seg;
    if (b0 == 0 && S > 1 && rest > 2 * std::max(W, options.chunk)) {
      // The first block is two short segments, the second one's warm-up starting inside the
      // text: if their seam disagrees, the model does not forget within the warm-up, and the
      // text runs as one stream before any memory goes to a block.
      n = 2;
      len = std::min(seg, std::max(2 * W, options.chunk));
    } else if (rest < S * seg) {
      const std::int64_t fit = (rest + seg - 1) / seg, most = rest / std::max(W, options.chunk);
      n = std::clamp<std::int64_t>(std::max(fit, most), 1, S);
      len = (rest + n - 1) / n;
      n = (rest + len - 1) / len;  // no empty segment at the end
    }
    // One stream needs no store beyond a pass: its blocks are the passes.
    if (n == 1) len = std::min(len, kPassRows);
    std::vector<std::int64_t> begin, lens;
    for (std::int64_t k = 0; k < n; ++k) {
      begin.push_back(b0 + k * len);
      lens.push_back(std::min(len, rest - k * len));
    }
    block.reset(begin, lens, state);
    stats.streams = std::max(stats.streams, n);
    stats.warmup_units += block.warm_up(W);
    std::vector<std::int64_t> all(static_cast<std::size_t>(n));
    for (std::int64_t k = 0; k < n; ++k) all[static_cast<std::size_t>(k)] = k;
    block.run(all);
    stats.seams += n - 1;
    // Each round fixes at least the first disagreeing segment for good (its predecessor is
    // final). A model that remembers further back than the warm-up makes most seams disagree,
    // and every round would run most of the block again: the rest of the text then runs as
    // one stream, from the end of the last segment that agreed.
    std::int64_t good = n;  // segments [0, good) are final
    for (auto redo = block.disagreeing(options.tolerance); !redo.empty();
         redo = block.disagreeing(options.tolerance)) {
      if (4 * static_cast<std::int64_t>(redo.size()) > n - 1) {
        good = redo.front();
        break;
      }
      for (std::int64_t k : redo) block.take_predecessor_end(k);
      stats.rerun_units += block.run(redo);
      stats.reruns += static_cast<std::int64_t>(redo.size());
    }
    block.deliver(good, options.chunk, sink);
    block.end_of(good - 1, state);
    b0 = good < n ? begin[static_cast<std::size_t>(good)] : b0 + std::min(n * len, rest);
    if (good < n) {
      stats.rerun_units += (n - good) * len;
      S = 1;
      stats.one_stream_from = b0;
    }
    stats.units = b0;
  }
  return stats;
}

double unit_nats(const float* z, std::int32_t V, std::int32_t id) {
  const float zmax = *std::max_element(z, z + V);
  double sum = 0;
  for (std::int32_t v = 0; v < V; ++v) sum += std::exp(static_cast<double>(z[v] - zmax));
  return std::log(sum) + zmax - z[id];
}

TextScore score_text(Model& model, std::span<const std::int32_t> ids,
                     const TraceOptions& options) {
  TextScore score;
  const auto n = static_cast<std::int64_t>(ids.size());
  if (n < 2) {
    score.nats = std::nan("");
    return score;
  }
  const std::int32_t V = model.vocab_size();
  double sum = 0;
  // Row t of a chunk predicts unit begin + t + 1; the last unit predicts nothing.
  score.trace = trace_text(
      model, ids.first(static_cast<std::size_t>(n)),
      [&](const TraceChunk& c) {
        for (std::int64_t t = 0; t < c.T && c.begin + t + 1 < n; ++t)
          sum += unit_nats(c.logits.data() + t * V, V, ids[static_cast<std::size_t>(c.begin + t + 1)]);
      },
      options);
  score.scored = n - 1;
  score.nats = sum / static_cast<double>(n - 1);
  return score;
}

}  // namespace charnn
