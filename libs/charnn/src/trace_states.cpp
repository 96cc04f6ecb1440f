// The states a trace's segments start from; see trace_states.hpp.
#include "trace_states.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

namespace charnn::detail {

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

std::int64_t StateFinder::find(std::int64_t begin, std::int64_t spacing, std::int64_t count,
                               std::int64_t streams, std::int64_t warmup, float tolerance,
                               const Model::State& first, TraceStats& stats) {
  const std::int64_t H = model_.hidden();
  outremembered_ = false;
  begin_ = begin;
  spacing_ = spacing;
  count_ = count;
  const std::int64_t asked = std::clamp<std::int64_t>(streams, 1, count);
  per_stream_ = (count + asked - 1) / asked;
  const std::int64_t n = (count + per_stream_ - 1) / per_stream_;  // no empty stream
  table_.assign(static_cast<std::size_t>(count + 1), model_.zero_state(1));
  end_.assign(static_cast<std::size_t>(n), model_.zero_state(1));
  copy_stream(first, 0, table_[0], 0, H);

  // Warm-ups for streams 1.., side by side: as long as the text before the first of them allows
  // (a warm-up from the text's start is exact).
  const std::int64_t W = n > 1 ? std::min(warmup, begin + per_stream_ * spacing) : 0;
  if (W > 0) {
    std::vector<std::int64_t> from;
    for (std::int64_t j = 1; j < n; ++j) from.push_back(begin + j * per_stream_ * spacing - W);
    Model::State st = model_.zero_state(n - 1);
    advance(from, W, st);
    for (std::int64_t j = 1; j < n; ++j)
      copy_stream(st, j - 1, table_[static_cast<std::size_t>(j * per_stream_)], 0, H);
    stats.warmup_units += W * (n - 1);
  }
  std::vector<std::int64_t> all(static_cast<std::size_t>(n));
  std::iota(all.begin(), all.end(), std::int64_t{0});
  std::int64_t first_pass_units = 0;  // the pass itself, not extra work
  stats.seams += n - 1;
  // Probes: an eighth of the way in (one interval at least, if a stream has more), the streams
  // from their warm-ups against the same streams from the zero state. Where most pairs are still
  // apart, no seam's re-run would agree in most places either, and the pass gives way before it
  // has run further.
  const std::int64_t probed =
      W > 0 && per_stream_ > 1 ? std::max<std::int64_t>(1, per_stream_ / 8) : 0;
  if (probed > 0) {
    run(all, false, tolerance, first_pass_units, 0, probed);
    std::vector<std::int64_t> from;
    for (std::int64_t j = 1; j < n; ++j) from.push_back(begin + j * per_stream_ * spacing);
    Model::State probes = model_.zero_state(n - 1);
    advance(from, probed * spacing, probes);
    stats.warmup_units += probed * spacing * (n - 1);
    std::int64_t apart = 0, compared = 0;
    for (std::int64_t j = 1; j < n; ++j) {
      if (count - j * per_stream_ <= probed) continue;  // a last stream that ended in its eighth
      ++compared;
      if (!same_stream(probes, j - 1, table_[static_cast<std::size_t>(j * per_stream_ + probed)], 0,
                       H, tolerance))
        ++apart;
    }
    stats.probe_regions = compared;
    stats.probes_agreed = compared - apart;
    stats.probed_units = probed * spacing;
    if (2 * apart > compared) {
      outremembered_ = true;
      return probed;  // stream 0 ran from the true state
    }
  }
  run(all, false, tolerance, first_pass_units, probed);

  // Rounds over the seams that disagree, until none does. The streams before the first seam
  // that disagrees are right (each starts where a right one ended), so once a stream has run its
  // whole length without agreeing, the states are right up to that seam, where the right state
  // is the end of the stream before it.
  for (;;) {
    std::vector<std::int64_t> redo;
    for (std::int64_t j = 1; j < n; ++j)
      if (!same_stream(table_[static_cast<std::size_t>(j * per_stream_)], 0,
                       end_[static_cast<std::size_t>(j - 1)], 0, H, tolerance))
        redo.push_back(j);
    for (std::int64_t j : redo)
      copy_stream(end_[static_cast<std::size_t>(j - 1)], 0,
                  table_[static_cast<std::size_t>(j * per_stream_)], 0, H);
    if (redo.empty()) return count_;
    if (outremembered_) return redo.front() * per_stream_;
    stats.reruns += static_cast<std::int64_t>(redo.size());
    if (!run(redo, true, tolerance, stats.rerun_units)) outremembered_ = true;
  }
}

bool StateFinder::run(const std::vector<std::int64_t>& which, bool check, float tolerance,
                      std::int64_t& units, std::int64_t first, std::int64_t stop) {
  const std::int64_t H = model_.hidden();
  const auto m = static_cast<std::int64_t>(which.size());
  Model::State st = model_.zero_state(m);
  std::vector<std::int64_t> length(static_cast<std::size_t>(m));  // intervals of each stream
  std::vector<char> done(static_cast<std::size_t>(m), 0);
  for (std::int64_t i = 0; i < m; ++i) {
    const std::int64_t j = which[static_cast<std::size_t>(i)];
    length[static_cast<std::size_t>(i)] = std::min(per_stream_, count_ - j * per_stream_);
    // A stream shorter than `first` intervals ended in the call before.
    done[static_cast<std::size_t>(i)] = first >= length[static_cast<std::size_t>(i)];
    if (!done[static_cast<std::size_t>(i)])
      copy_stream(table_[static_cast<std::size_t>(j * per_stream_ + first)], 0, st, i, H);
  }
  bool agreed = true;
  std::vector<std::int64_t> from(static_cast<std::size_t>(m));
  for (std::int64_t c = first; c < std::min(per_stream_, stop); ++c) {
    for (std::int64_t i = 0; i < m; ++i)
      from[static_cast<std::size_t>(i)] =
          begin_ + (which[static_cast<std::size_t>(i)] * per_stream_ + c) * spacing_;
    advance(from, spacing_, st);
    units += spacing_ * m;
    bool all_done = true;
    for (std::int64_t i = 0; i < m; ++i) {
      auto& d = done[static_cast<std::size_t>(i)];
      if (d) continue;
      const std::int64_t j = which[static_cast<std::size_t>(i)];
      const std::int64_t k = j * per_stream_ + c + 1;
      const bool last = c + 1 == length[static_cast<std::size_t>(i)];
      // A stream's end is the next stream's start, which the seam check compares: kept apart.
      Model::State& slot =
          last ? end_[static_cast<std::size_t>(j)] : table_[static_cast<std::size_t>(k)];
      if (check && same_stream(st, i, slot, 0, H, tolerance)) {
        d = 1;
        continue;
      }
      copy_stream(st, i, slot, 0, H);
      if (last && k == count_) copy_stream(st, i, table_[static_cast<std::size_t>(k)], 0, H);
      if (last) {
        d = 1;
        if (check) agreed = false;
      }
      all_done = all_done && d;
    }
    if (all_done) break;
  }
  return agreed;
}

void fill_pass_ids(std::span<const std::int32_t> ids, const std::vector<std::int64_t>& from,
                   std::int64_t t0, std::int64_t count, std::vector<std::int32_t>& out) {
  const auto n = static_cast<std::int64_t>(from.size());
  const auto total = static_cast<std::int64_t>(ids.size());
  out.resize(static_cast<std::size_t>(count * n));
  for (std::int64_t t = 0; t < count; ++t)
    for (std::int64_t i = 0; i < n; ++i) {
      const std::int64_t u = from[static_cast<std::size_t>(i)] + t0 + t;
      out[static_cast<std::size_t>(t * n + i)] = u < total ? ids[static_cast<std::size_t>(u)] : 0;
    }
}

void advance_streams(Model& model, std::span<const std::int32_t> ids,
                     const std::vector<std::int64_t>& from, std::int64_t length, Model::State& st,
                     std::vector<std::int32_t>& scratch) {
  const std::int64_t T = rows_per_pass(static_cast<std::int64_t>(from.size()));
  for (std::int64_t t0 = 0; t0 < length; t0 += T) {
    const std::int64_t Tp = std::min(T, length - t0);
    fill_pass_ids(ids, from, t0, Tp, scratch);
    model.advance(scratch, Tp, st);
  }
}

void StateFinder::copy_to(std::int64_t k, Model::State& to, std::int64_t j) const {
  copy_stream(table_[static_cast<std::size_t>(k)], 0, to, j, model_.hidden());
}

}  // namespace charnn::detail
