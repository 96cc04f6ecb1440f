// Streaming unit ranking: running sums for Pearson r, histograms for AUROC, saturation counts.
// The per-row work is a few contiguous loops over all D columns (vectorised by the compiler);
// nothing is allocated after construction.
#include "charnn/ranking.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <optional>

#include "charnn/error.hpp"

namespace charnn {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Monotone map of R onto (-2, 2), identity on [-1, 1]; see RankingOptions::bins.
// Written as a select, not a branch, so that add_tile_chunk's loop over it vectorises.
inline float squash(float x) {
  const float a = std::fabs(x);
  const float far = std::copysign(2.0f - 1.0f / std::max(a, 1.0f), x);
  return a <= 1.0f ? x : far;
}

// The inverse of squash on (-2, 2).
double unsquash(double v) {
  const double a = std::fabs(v);
  if (a <= 1.0) return v;
  return std::copysign(1.0 / (2.0 - a), v);
}

// Columns go in tiles of at most kTile units of one signal: the unit of work of one thread.
constexpr std::size_t kTile = 64;

// One tile's columns over one chunk's rows.
struct TileChunk {
  const float* x;      // row t's first column at x + t * stride
  std::size_t stride;  // the signal's H
  std::size_t w;       // columns in the tile
  std::int64_t T;
  const double* shift;     // (w)
  const float* yc;         // (T, P) centred probe values
  std::size_t P;           //
  const std::uint8_t* on;  // (T, B) binary probes on
  std::size_t B;
  std::size_t bins;
  float bin_scale, last_bin;
  bool gate;
  int sign;                     // +1 adds the rows, -1 takes them back
  double *sx, *sxx;             // (w)
  float* sxy;                   // probe p's w columns at sxy + p * sxy_stride
  std::size_t sxy_stride;       //
  std::uint32_t* hist_all;      // (w, bins)
  std::uint32_t* hist_pos;      // binary probe b's (w, bins) at hist_pos + b * hist_pos_stride
  std::size_t hist_pos_stride;  //
  std::int64_t *sat_left, *sat_right;  // (w)
};

// The hot loop of inspect's analysis (a quarter of the CPU time at the baseline SSE2 width): the
// loops run across a tile's columns, so each column's sums are added in the same order at every
// width and the clones agree bit for bit.
__attribute__((target_clones("avx512f", "avx2", "default"))) void add_tile_chunk(
    const TileChunk& c) {
  const std::size_t w = c.w;
  double sx[kTile] = {}, sxx[kTile] = {};
  std::int32_t left[kTile] = {}, right[kTile] = {};
  float xc[kTile];
  std::int32_t bin[kTile];
  for (std::int64_t t = 0; t < c.T; ++t) {
    const float* x = c.x + static_cast<std::size_t>(t) * c.stride;
    for (std::size_t h = 0; h < w; ++h) {
      const double d = static_cast<double>(x[h]) - c.shift[h];
      sx[h] += d;
      sxx[h] += d * d;
      xc[h] = static_cast<float>(d);
    }
    for (std::size_t h = 0; h < w; ++h) {
      // In this order a NaN lands in bin 0.
      bin[h] = static_cast<std::int32_t>(
          std::min(std::max(0.0f, (squash(x[h]) + 2.0f) * c.bin_scale), c.last_bin));
    }
    if (c.gate)
      for (std::size_t h = 0; h < w; ++h) {
        left[h] += x[h] < 0.1f;
        right[h] += x[h] > 0.9f;
      }
    const auto step = static_cast<std::uint32_t>(c.sign);  // -1 wraps to a decrement
    for (std::size_t h = 0; h < w; ++h)
      c.hist_all[h * c.bins + static_cast<std::size_t>(bin[h])] += step;
    const float* y = c.yc + static_cast<std::size_t>(t) * c.P;
    for (std::size_t p = 0; p < c.P; ++p) {
      float* acc = c.sxy + p * c.sxy_stride;
      const float yp = static_cast<float>(c.sign) * y[p];
      for (std::size_t h = 0; h < w; ++h) acc[h] += yp * xc[h];
    }
    const std::uint8_t* on = c.on + static_cast<std::size_t>(t) * c.B;
    for (std::size_t b = 0; b < c.B; ++b) {
      if (!on[b]) continue;
      std::uint32_t* hist = c.hist_pos + b * c.hist_pos_stride;
      for (std::size_t h = 0; h < w; ++h)
        hist[h * c.bins + static_cast<std::size_t>(bin[h])] += step;
    }
  }
  for (std::size_t h = 0; h < w; ++h) {
    c.sx[h] += c.sign * sx[h];
    c.sxx[h] += c.sign * sxx[h];
    c.sat_left[h] += c.sign * left[h];
    c.sat_right[h] += c.sign * right[h];
  }
}

}  // namespace

bool is_gate_signal(std::string_view name) {
  return name == "i" || name == "f" || name == "o" || name == "z" || name == "r";
}

double GateSaturation::mean_left() const {
  return left.empty() ? 0.0 : std::accumulate(left.begin(), left.end(), 0.0) / left.size();
}
double GateSaturation::mean_right() const {
  return right.empty() ? 0.0 : std::accumulate(right.begin(), right.end(), 0.0) / right.size();
}
std::int64_t GateSaturation::count_left(double fraction) const {
  return std::count_if(left.begin(), left.end(), [&](float v) { return v > fraction; });
}
std::int64_t GateSaturation::count_right(double fraction) const {
  return std::count_if(right.begin(), right.end(), [&](float v) { return v > fraction; });
}

UnitRanker::UnitRanker(std::vector<TracedSignal> signals, std::vector<const Probe*> probes,
                       RankingOptions options)
    : signals_(std::move(signals)), probes_(std::move(probes)), options_(options) {
  if (options_.bins < 2 || options_.bins > 65535)
    throw error("ranking: bins must be in [2, 65535], got " + std::to_string(options_.bins));
  offset_.push_back(0);
  for (std::size_t s = 0; s < signals_.size(); ++s) {
    if (signals_[s].hidden <= 0) throw error("ranking: signal " + signals_[s].name + " has H <= 0");
    offset_.push_back(offset_.back() + static_cast<std::size_t>(signals_[s].hidden));
    if (is_gate_signal(signals_[s].name)) gate_signals_.push_back(s);
  }
  D_ = offset_.back();
  for (std::size_t sig = 0; sig < signals_.size(); ++sig) {
    const auto H = static_cast<std::size_t>(signals_[sig].hidden);
    const bool gate = is_gate_signal(signals_[sig].name);
    for (std::size_t h = 0; h < H; h += kTile)
      tiles_.push_back({sig, h, std::min(H, h + kTile), gate});
  }
  const std::size_t P = probes_.size();
  const auto bins = static_cast<std::size_t>(options_.bins);
  for (std::size_t p = 0; p < P; ++p)
    if (probes_[p]->kind == ProbeKind::binary) binary_.push_back(p);

  shift_x_.assign(D_, 0.0);
  shift_y_.assign(P, 0.0);
  for (std::size_t p = 0; p < P; ++p) {
    const auto& v = probes_[p]->values;
    shift_y_[p] = v.empty() ? 0.0 : std::accumulate(v.begin(), v.end(), 0.0) / v.size();
  }
  sx_.assign(D_, 0.0);
  sxx_.assign(D_, 0.0);
  sy_.assign(P, 0.0);
  syy_.assign(P, 0.0);
  sxy_.assign(P * D_, 0.0);
  chunk_sxy_.assign(P * D_, 0.0f);
  hist_all_.assign(D_ * bins, 0);
  hist_pos_.assign(binary_.size() * D_ * bins, 0);
  pos_count_.assign(binary_.size(), 0);
  sat_left_.assign(D_, 0);
  sat_right_.assign(D_, 0);
}

std::size_t UnitRanker::column(std::size_t signal, std::int64_t unit) const {
  return offset_.at(signal) + static_cast<std::size_t>(unit);
}

void UnitRanker::add(std::int64_t begin, std::int64_t T,
                     std::span<const std::span<const float>> values, bool retract) {
  if (values.size() != signals_.size())
    throw error("ranking: got " + std::to_string(values.size()) + " signals, expected " +
                std::to_string(signals_.size()));
  for (std::size_t s = 0; s < signals_.size(); ++s)
    if (static_cast<std::int64_t>(values[s].size()) < T * signals_[s].hidden)
      throw error("ranking: signal " + signals_[s].name + " chunk is too short");
  for (const Probe* p : probes_)
    if (begin < 0 || static_cast<std::int64_t>(p->values.size()) < begin + T)
      throw error("ranking: probe " + p->name + " has no values for units " +
                  std::to_string(begin) + ".." + std::to_string(begin + T));

  const std::size_t P = probes_.size();
  const auto bins = static_cast<std::size_t>(options_.bins);
  const float bin_scale = static_cast<float>(options_.bins) / 4.0f;  // (-2, 2) onto [0, bins)
  const auto last_bin = static_cast<float>(options_.bins - 1);

  if (!have_shift_ && T > 0) {
    for (std::size_t s = 0; s < signals_.size(); ++s)
      for (std::int64_t h = 0; h < signals_[s].hidden; ++h)
        shift_x_[offset_[s] + static_cast<std::size_t>(h)] = values[s][static_cast<std::size_t>(h)];
    have_shift_ = true;
  }

  // The probes' side of every row first: centred values and which binary probes are on.
  const std::size_t B = binary_.size();
  yc_.resize(static_cast<std::size_t>(T) * P);
  on_.resize(static_cast<std::size_t>(T) * B);
  const int sign = retract ? -1 : 1;
  for (std::int64_t t = 0; t < T; ++t) {
    const auto u = static_cast<std::size_t>(begin + t);
    for (std::size_t p = 0; p < P; ++p) {
      const double yc = static_cast<double>(probes_[p]->values[u]) - shift_y_[p];
      sy_[p] += sign * yc;
      syy_[p] += sign * yc * yc;
      yc_[static_cast<std::size_t>(t) * P + p] = static_cast<float>(yc);
    }
    for (std::size_t b = 0; b < B; ++b) {
      const bool on = probes_[binary_[b]]->values[u] >= 0.5f;
      on_[static_cast<std::size_t>(t) * B + b] = on;
      pos_count_[b] += sign * on;
    }
  }

  // Then the columns, which are independent: each thread takes whole tiles of a signal's units
  // and runs every row of the chunk over them (sums, histograms, saturation, products).
#pragma omp parallel for schedule(dynamic, 1)
  for (std::size_t tile = 0; tile < tiles_.size(); ++tile) {
    const Tile& tl = tiles_[tile];
    const std::size_t d0 = offset_[tl.signal] + tl.begin;
    const TileChunk c{
        .x = values[tl.signal].data() + tl.begin,
        .stride = static_cast<std::size_t>(signals_[tl.signal].hidden),
        .w = tl.end - tl.begin,
        .T = T,
        .shift = shift_x_.data() + d0,
        .yc = yc_.data(),
        .P = P,
        .on = on_.data(),
        .B = B,
        .bins = bins,
        .bin_scale = bin_scale,
        .last_bin = last_bin,
        .gate = tl.gate,
        .sign = sign,
        .sx = sx_.data() + d0,
        .sxx = sxx_.data() + d0,
        .sxy = chunk_sxy_.data() + d0,
        .sxy_stride = D_,
        .hist_all = hist_all_.data() + d0 * bins,
        .hist_pos = hist_pos_.data() + d0 * bins,
        .hist_pos_stride = D_ * bins,
        .sat_left = sat_left_.data() + d0,
        .sat_right = sat_right_.data() + d0,
    };
    add_tile_chunk(c);
  }
  n_ += sign * T;
  // The float sums take a few hundred rows each before they go into the double ones: a pass of
  // the one-pass trace hands over 32.
  rows_pending_ += T;
  if (rows_pending_ >= kFlushRows) flush();
}

void UnitRanker::flush() {
  rows_pending_ = 0;
  for (std::size_t i = 0; i < chunk_sxy_.size(); ++i) {
    sxy_[i] += chunk_sxy_[i];
    chunk_sxy_[i] = 0.0f;
  }
}

double UnitRanker::pearson(std::size_t probe, std::size_t signal, std::int64_t unit) const {
  if (n_ < 2) return kNaN;
  const std::size_t d = column(signal, unit);
  const double n = static_cast<double>(n_);
  const std::size_t i = probe * D_ + d;
  const double cov = sxy_[i] + chunk_sxy_[i] - sx_[d] * sy_[probe] / n;
  const double vx = sxx_[d] - sx_[d] * sx_[d] / n;
  const double vy = syy_[probe] - sy_[probe] * sy_[probe] / n;
  // A unit that never moves (relative to float resolution) or a constant probe has no r.
  if (vx <= 1e-12 * n || vy <= 1e-12 * n) return kNaN;
  return std::clamp(cov / std::sqrt(vx * vy), -1.0, 1.0);
}

std::size_t UnitRanker::binary_index(std::size_t probe) const {
  return static_cast<std::size_t>(std::find(binary_.begin(), binary_.end(), probe) -
                                  binary_.begin());
}

std::optional<UnitRanker::ClassHistograms> UnitRanker::class_histograms(std::size_t probe,
                                                                        std::size_t signal,
                                                                        std::int64_t unit) const {
  const std::size_t b = binary_index(probe);
  if (b == binary_.size()) return std::nullopt;
  ClassHistograms h;
  h.pos = static_cast<double>(pos_count_[b]);
  h.neg = static_cast<double>(n_) - h.pos;
  if (h.pos == 0 || h.neg == 0) return std::nullopt;
  h.bins = static_cast<std::size_t>(options_.bins);
  const std::size_t d = column(signal, unit);
  h.all = hist_all_.data() + d * h.bins;
  h.positive = hist_pos_.data() + (b * D_ + d) * h.bins;
  return h;
}

double UnitRanker::auroc(std::size_t probe, std::size_t signal, std::int64_t unit) const {
  const auto h = class_histograms(probe, signal, unit);
  if (!h) return kNaN;
  const auto [all, hp, pos, neg, bins] = *h;
  // P(x_pos > x_neg) + P(same bin) / 2, walking the bins upwards.
  double below_neg = 0, wins = 0;
  for (std::size_t i = 0; i < bins; ++i) {
    const double p_i = hp[i];
    const double n_i = static_cast<double>(all[i]) - p_i;
    wins += p_i * (below_neg + 0.5 * n_i);
    below_neg += n_i;
  }
  return wins / (pos * neg);
}

OnOff UnitRanker::on_off(std::size_t probe, std::size_t signal, std::int64_t unit) const {
  OnOff best;
  const auto h = class_histograms(probe, signal, unit);
  if (!h) return best;
  const auto [all, hp, pos, neg, bins] = *h;
  // Walking the edges upwards: pos_below and neg_below count the units in the bins under edge i,
  // which are off when on means "above" and on when on means "below".
  double pos_below = 0, neg_below = 0, best_sum = -1;
  const double bin_width = 4.0 / static_cast<double>(bins);
  for (std::size_t i = 0; i < bins; ++i) {
    if (i > 0) {
      for (const bool above : {true, false}) {
        OnOff c;
        c.above = above;
        c.inside_on = (above ? pos - pos_below : pos_below) / pos;
        c.outside_off = (above ? neg_below : neg - neg_below) / neg;
        const double sum = c.inside_on + c.outside_off;
        if (c.score() > best.score() || (c.score() == best.score() && sum > best_sum)) {
          c.threshold = unsquash(static_cast<double>(i) * bin_width - 2.0);
          best = c;
          best_sum = sum;
        }
      }
    }
    pos_below += hp[i];
    neg_below += static_cast<double>(all[i]) - hp[i];
  }
  return best;
}

std::vector<UnitScore> UnitRanker::top_on_off(std::size_t probe, std::size_t k) const {
  std::vector<UnitScore> all;
  all.reserve(D_);
  for (std::size_t s = 0; s < signals_.size(); ++s)
    for (std::int64_t h = 0; h < signals_[s].hidden; ++h) {
      UnitScore u{probe, s, h, kNaN, kNaN};
      u.on_off = on_off(probe, s, h);
      all.push_back(u);
    }
  auto better = [](const UnitScore& a, const UnitScore& b) {
    const double sa = a.on_off.score(), sb = b.on_off.score();
    if (sa != sb) return sa > sb;
    const double ta = a.on_off.inside_on + a.on_off.outside_off;
    const double tb = b.on_off.inside_on + b.on_off.outside_off;
    if (ta != tb) return ta > tb;
    return a.signal != b.signal ? a.signal < b.signal : a.unit < b.unit;  // a stable order
  };
  k = std::min(k, all.size());
  std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(k), all.end(), better);
  all.resize(k);
  for (auto& u : all) {
    u.r = pearson(u.probe, u.signal, u.unit);
    u.auroc = auroc(u.probe, u.signal, u.unit);
  }
  return all;
}

UnitScore UnitRanker::score(std::size_t probe, std::size_t signal, std::int64_t unit) const {
  return {probe, signal, unit, pearson(probe, signal, unit), auroc(probe, signal, unit)};
}

std::vector<UnitScore> UnitRanker::top(std::size_t probe, std::size_t k) const {
  std::vector<UnitScore> all;
  all.reserve(D_);
  for (std::size_t s = 0; s < signals_.size(); ++s)
    for (std::int64_t h = 0; h < signals_[s].hidden; ++h) {
      // AUROC only for the winners: computing it is a walk over the bins.
      all.push_back({probe, s, h, pearson(probe, s, h), kNaN});
    }
  auto key = [](const UnitScore& u) { return std::isnan(u.r) ? -1.0 : std::fabs(u.r); };
  k = std::min(k, all.size());
  std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(k), all.end(),
                    [&](const UnitScore& a, const UnitScore& b) { return key(a) > key(b); });
  all.resize(k);
  for (auto& u : all) u.auroc = auroc(u.probe, u.signal, u.unit);
  return all;
}

std::vector<GateSaturation> UnitRanker::saturation() const {
  std::vector<GateSaturation> out;
  const double n = std::max<double>(1.0, static_cast<double>(n_));
  for (std::size_t s : gate_signals_) {
    GateSaturation g{signals_[s].layer, signals_[s].name, {}, {}};
    for (std::int64_t h = 0; h < signals_[s].hidden; ++h) {
      const std::size_t d = column(s, h);
      g.left.push_back(static_cast<float>(sat_left_[d] / n));
      g.right.push_back(static_cast<float>(sat_right_[d] / n));
    }
    out.push_back(std::move(g));
  }
  return out;
}

}  // namespace charnn
