// Ranking hidden units against probes, streaming: the trace of a long text goes through in
// chunks and only per-unit sums stay in memory, so a 3 MB text never needs its whole trace.
// For every (layer, signal, unit) and every probe: Pearson r (exact, from running sums in
// double), and for binary probes AUROC (approximate, from activation histograms: see below).
// Gate saturation (Karpathy, Johnson, Fei-Fei 2015, "Visualizing and understanding recurrent
// networks", fig. 3): per gate unit, the fraction of time it is < 0.1 and > 0.9. Thresholded
// on/off matching against a binary probe (a selection), as LSTMVis ranks neurons (Strobelt et
// al. 2018), from the same histograms as AUROC.
#pragma once

#include <charnn/probes.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace charnn {

// One traced signal of one layer, e.g. layer 0's "c", H values per unit of text.
struct TracedSignal {
  std::int32_t layer = 0;
  std::string name;
  std::int64_t hidden = 0;
};

// Signals treated as sigmoid gates for saturation statistics: LSTM i, f, o and GRU z, r.
bool is_gate_signal(std::string_view name);

struct RankingOptions {
  // AUROC histogram bins per unit and class. Values are binned after the monotone map
  // m(x) = x on [-1, 1] and sign(x) (2 - 1/|x|) outside, onto (-2, 2): tanh and sigmoid signals
  // keep full resolution (bins / 4 per unit interval) and unbounded ones such as the LSTM cell
  // c are still ordered, only more coarsely far from 0. AUROC depends only on the order of
  // values, so the sole error is that pairs falling in one bin count as ties (1/2).
  std::int32_t bins = 256;
};

// A neuron thresholded into on and off, matched against a binary probe: `on` is the side of
// `threshold` where the neuron sits while the probe is 1. The threshold is the one that makes the
// smaller of inside_on and outside_off largest, so score() = s says: on for at least s of the
// units where the probe is 1 and off for at least s of the others.
struct OnOff {
  double threshold = 0;
  bool above = true;       // on means >= threshold; otherwise on means < threshold
  double inside_on = 0;    // fraction of the probe's 1s where the neuron is on
  double outside_off = 0;  // fraction of the probe's 0s where it is off
  double score() const { return inside_on < outside_off ? inside_on : outside_off; }
  bool on(float x) const { return above ? x >= threshold : x < threshold; }
};

struct UnitScore {
  std::size_t probe = 0;   // index into the ranker's probes
  std::size_t signal = 0;  // index into the ranker's signals
  std::int64_t unit = 0;   // hidden unit index within the signal
  double r = 0;            // Pearson correlation; NaN when either side is constant
  double auroc = 0;        // binary probes; NaN for continuous probes or a one-class probe
  OnOff on_off{};          // top_on_off only
};

struct GateSaturation {
  std::int32_t layer = 0;
  std::string gate;
  std::vector<float> left;   // (H): fraction of units of text with value < 0.1
  std::vector<float> right;  // (H): fraction with value > 0.9
  double mean_left() const;
  double mean_right() const;
  // Hidden units saturated more than `fraction` of the time on each side.
  std::int64_t count_left(double fraction = 0.5) const;
  std::int64_t count_right(double fraction = 0.5) const;
};

class UnitRanker {
 public:
  // Probes must outlive the ranker and hold one value per unit of the text being traced.
  UnitRanker(std::vector<TracedSignal> signals, std::vector<const Probe*> probes,
             RankingOptions options = {});

  // One chunk of the trace, units [begin, begin + T) of the text: values[s] is (T, H_s), row t
  // holding signal s after reading unit begin + t. Chunks may come in any order but each unit
  // must come once. `retract` takes back a chunk added before, given the same values.
  void add(std::int64_t begin, std::int64_t T, std::span<const std::span<const float>> values,
           bool retract = false);

  const std::vector<TracedSignal>& signals() const { return signals_; }
  const std::vector<const Probe*>& probes() const { return probes_; }
  std::int64_t units() const { return n_; }

  double pearson(std::size_t probe, std::size_t signal, std::int64_t unit) const;
  double auroc(std::size_t probe, std::size_t signal, std::int64_t unit) const;
  UnitScore score(std::size_t probe, std::size_t signal, std::int64_t unit) const;
  // The k units with the largest |r| for a probe over all signals, best first; NaN r last.
  std::vector<UnitScore> top(std::size_t probe, std::size_t k) const;
  // Binary probes with both classes present; otherwise score 0. The threshold lies on a bin edge
  // (RankingOptions::bins), so it is exact for the counts the histograms hold.
  OnOff on_off(std::size_t probe, std::size_t signal, std::int64_t unit) const;
  // The k units with the best on/off score for a binary probe, best first (ties: the larger
  // inside_on + outside_off), with r and AUROC filled in.
  std::vector<UnitScore> top_on_off(std::size_t probe, std::size_t k) const;
  // One entry per traced gate signal (is_gate_signal), in signal order.
  std::vector<GateSaturation> saturation() const;

 private:
  void flush();
  std::size_t column(std::size_t signal, std::int64_t unit) const;
  // Index into binary_ of a binary probe; binary_.size() when the probe is not binary.
  std::size_t binary_index(std::size_t probe) const;
  // One column's histograms for a binary probe (all units, and those where it is 1) with the
  // class sizes, which AUROC and on/off both walk; none for another probe or a one-class one.
  struct ClassHistograms {
    const std::uint32_t* all = nullptr;
    const std::uint32_t* positive = nullptr;
    double pos = 0, neg = 0;
    std::size_t bins = 0;
  };
  std::optional<ClassHistograms> class_histograms(std::size_t probe, std::size_t signal,
                                                  std::int64_t unit) const;

  std::vector<TracedSignal> signals_;
  std::vector<const Probe*> probes_;
  RankingOptions options_;
  std::vector<std::size_t> offset_;  // (signals + 1): first column of each signal
  std::size_t D_ = 0;                // total columns (sum of H)
  std::vector<std::size_t> binary_;  // probe indices with ProbeKind::binary

  // Shifts that keep the running sums well conditioned: sums are of (x - shift_x[d]) and
  // (y - shift_y[p]), with shift_x the first value seen and shift_y the probe's mean.
  std::vector<double> shift_x_;  // (D)
  std::vector<double> shift_y_;  // (P)
  bool have_shift_ = false;

  std::int64_t n_ = 0;
  std::vector<double> sx_, sxx_;  // (D)
  std::vector<double> sy_, syy_;  // (P)
  std::vector<double> sxy_;       // (P, D)
  std::vector<float> chunk_sxy_;  // (P, D): float partial sums of the last rows_pending_ rows
  std::int64_t rows_pending_ = 0;
  static constexpr std::int64_t kFlushRows = 128;
  // Columns in tiles of a signal's units (ranking.cpp's kTile): the unit of work of one thread.
  struct Tile {
    std::size_t signal, begin, end;  // units [begin, end) of the signal
    bool gate;                       // is_gate_signal: saturation is counted
  };
  std::vector<Tile> tiles_;
  std::vector<float> yc_;                // (T, P): one chunk's centred probe values, scratch
  std::vector<std::uint8_t> on_;         // (T, B): which binary probes are on, scratch
  std::vector<std::uint32_t> hist_all_;  // (D, bins): all units
  std::vector<std::uint32_t> hist_pos_;  // (B, D, bins): units where binary probe b is 1
  std::vector<std::int64_t> pos_count_;  // (B)
  std::vector<std::size_t> gate_signals_;
  std::vector<std::int64_t> sat_left_, sat_right_;  // (D): only gate columns used
};

}  // namespace charnn
