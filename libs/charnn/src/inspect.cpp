// Inspection driver (see inspect.hpp): one pass of Model::trace feeds the streaming ranker, the
// per-unit loss and the excerpt kept for the HTML report; with selections, a second pass marks
// where each selection's best neurons are on together.
#include "charnn/inspect.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_set>

#include "charnn/error.hpp"
#include "charnn/text.hpp"

namespace charnn {

TracedText prepare_text(std::string cleaned, const Vocab& vocab, UnknownUnits unknown,
                        const std::string& source) {
  if (cleaned.empty())
    throw error(source + ": the text is empty", "give a file with some text in it");
  EncodedUnits encoded = encode_units(cleaned, vocab, unknown, source);
  TracedText out;
  out.ids = std::move(encoded.ids);
  out.unknown = std::move(encoded.unknown);
  out.unknown_count = encoded.unknown_count;
  out.boundaries.reserve(out.ids.size() + 1);
  if (unknown == UnknownUnits::skip) {
    // The text without the skipped units, so that boundaries index what was traced.
    for (const auto& [begin, end] : encoded.spans) {
      out.boundaries.push_back(out.text.size());
      out.text.append(cleaned, begin, end - begin);
    }
  } else {
    for (const auto& span : encoded.spans) out.boundaries.push_back(span.first);
    out.text = std::move(cleaned);
  }
  out.boundaries.push_back(out.text.size());
  if (out.ids.empty())
    throw error(source + ": no unit of the text is in the model's vocabulary",
                "is this the text the model was trained on?");
  return out;
}

std::string describe_layers(const Model& model) {
  std::string s;
  for (std::int32_t l = 0; l < model.num_layers(); ++l) {
    if (l) s += " > ";
    s += model.layer(l).type() + "(" + std::to_string(model.layer(l).hidden_size()) + ")";
  }
  return s;
}

namespace {

std::int64_t count_selected(const Probe& selection, std::int64_t n) {
  return std::count_if(selection.values.begin(), selection.values.begin() + n,
                       [](float v) { return v >= 0.5f; });
}

// The analysed length n is the caller's: options.max_units may cut the text short.
void check_inputs(const TracedText& text, const std::vector<Probe>& probes,
                  const std::vector<Probe>& selections, std::int64_t n) {
  const std::int64_t total = text.units();
  if (n < 2)
    throw error("the text has " + std::to_string(n) + " unit" + (n == 1 ? "" : "s") +
                    "; inspection needs at least 2",
                "give a longer text");
  for (const auto* list : {&probes, &selections})
    for (const auto& p : *list)
      if (static_cast<std::int64_t>(p.values.size()) != total)
        throw error("probe " + p.name + " has " + std::to_string(p.values.size()) +
                    " values for a text of " + std::to_string(total) + " units");
  for (const auto& s : selections) {
    const std::int64_t marked = count_selected(s, n);
    if (marked == 0 || marked == n)
      throw error("the selection " + s.name + " marks " + (marked ? "every" : "no") +
                      " unit of the " + std::to_string(n) + " analysed",
                  "a selection must mark some of the text and leave the rest: change the pattern "
                  "or span, or analyse more text (--max-units)",
                  2);
  }
}

// A chunk's signals in layer then signal order, as traced_signals lists them.
void flatten(const TraceChunk& chunk, std::vector<std::span<const float>>& flat) {
  flat.clear();
  for (const auto& layer : chunk.signals)
    for (const auto& s : layer) flat.push_back(s);
}

// In layer then signal order, the order of TraceChunk::signals once flattened.
std::vector<TracedSignal> traced_signals(const Model& model) {
  std::vector<TracedSignal> signals;
  for (std::int32_t l = 0; l < model.num_layers(); ++l)
    for (const auto& name : model.layer(l).signals())
      signals.push_back({l, name, model.layer(l).hidden_size()});
  return signals;
}

// The units drawn in the HTML report with every traced column: which units win is known only
// once the whole text is ranked.
struct Excerpt {
  std::int64_t begin = 0, end = 0;     // units [begin, end) of the text
  std::vector<std::size_t> offset{0};  // first column of each signal in a row
  std::size_t D = 0;                   // columns per row: every hidden unit of every signal
  std::vector<float> values;           // (units, D)
  std::vector<float> loss;             // (units) nats; NaN where no row predicted the unit

  Excerpt(const std::vector<TracedSignal>& signals, const InspectOptions& options, std::int64_t n) {
    for (const auto& s : signals)
      offset.push_back(offset.back() + static_cast<std::size_t>(s.hidden));
    D = offset.back();
    begin = std::clamp<std::int64_t>(options.excerpt_begin, 0, n);
    end = std::min(n, begin + std::max<std::int64_t>(0, options.excerpt_units));
    values.resize(units() * D);
    loss.assign(units(), std::nanf(""));
  }
  std::size_t units() const { return static_cast<std::size_t>(end - begin); }

  // flat: the chunk's signals in `signals` order, each (chunk.T, H).
  void add_rows(const TraceChunk& chunk, const std::vector<std::span<const float>>& flat,
                const std::vector<TracedSignal>& signals) {
    const std::int64_t lo = std::max(chunk.begin, begin);
    const std::int64_t hi = std::min(chunk.begin + chunk.T, end);
    for (std::int64_t u = lo; u < hi; ++u) {
      float* row = values.data() + static_cast<std::size_t>(u - begin) * D;
      for (std::size_t s = 0; s < signals.size(); ++s) {
        const auto H = static_cast<std::size_t>(signals[s].hidden);
        const float* src = flat[s].data() + static_cast<std::size_t>(u - chunk.begin) * H;
        std::copy(src, src + H, row + offset[s]);
      }
    }
  }

  std::vector<float> column(std::size_t signal, std::int64_t unit) const {
    const std::size_t col = offset[signal] + static_cast<std::size_t>(unit);
    std::vector<float> out;
    for (std::size_t i = 0; i < units(); ++i) out.push_back(values[i * D + col]);
    return out;
  }
};

struct LossSum {
  double nats = 0;
  std::int64_t count = 0;
};

// Row t of the chunk predicts unit begin + t + 1; the last analysed unit predicts nothing. A
// retracted chunk comes off the sum and leaves the excerpt to the right rows.
void add_loss(const TraceChunk& chunk, const TracedText& text, std::int64_t n, std::int32_t V,
              LossSum& sum, Excerpt& excerpt) {
  for (std::int64_t t = 0; t < chunk.T; ++t) {
    const std::int64_t target = chunk.begin + t + 1;
    if (target >= n) break;
    const double nats =
        unit_nats(chunk.logits.data() + t * V, V, text.ids[static_cast<std::size_t>(target)]);
    if (chunk.retract) {
      sum.nats -= nats;
      --sum.count;
      continue;
    }
    sum.nats += nats;
    ++sum.count;
    if (target >= excerpt.begin && target < excerpt.end)
      excerpt.loss[static_cast<std::size_t>(target - excerpt.begin)] = static_cast<float>(nats);
  }
}

// Scores with their names resolved; the first html_top carry their excerpt.
std::vector<ReportUnit> report_units(const std::vector<UnitScore>& top,
                                     const std::vector<TracedSignal>& signals,
                                     const Excerpt& excerpt, std::size_t html_top) {
  std::vector<ReportUnit> units;
  for (std::size_t k = 0; k < top.size(); ++k) {
    const auto& sc = top[k];
    ReportUnit ru{
        signals[sc.signal].layer, signals[sc.signal].name, sc.unit, sc.r, sc.auroc, {}, sc.on_off};
    if (k < html_top) ru.excerpt = excerpt.column(sc.signal, sc.unit);
    units.push_back(std::move(ru));
  }
  return units;
}

ReportProbe report_probe(const Probe& probe, const std::vector<UnitScore>& top,
                         const std::vector<TracedSignal>& signals, const Excerpt& excerpt,
                         std::int64_t n, std::size_t html_top) {
  ReportProbe rp;
  rp.name = probe.name;
  rp.description = probe.description;
  rp.kind = probe.kind;
  rp.mean =
      std::accumulate(probe.values.begin(), probe.values.begin() + n, 0.0) / static_cast<double>(n);
  rp.excerpt.assign(probe.values.begin() + excerpt.begin, probe.values.begin() + excerpt.end);
  rp.top = report_units(top, signals, excerpt, html_top);
  return rp;
}

// A selection's neurons that must be on together for a stretch to match: the leading ones of
// its ranking whose score is near the best. Below 0.5 a neuron separates nothing.
std::vector<UnitScore> together_set(const std::vector<UnitScore>& top, std::size_t most) {
  std::vector<UnitScore> set;
  for (const auto& u : top) {
    const double sc = u.on_off.score();
    if (set.size() == most || sc <= 0.5 || sc < top[0].on_off.score() - 0.1) break;
    set.push_back(u);
  }
  return set;
}

struct Together {
  std::vector<UnitScore> set;
  std::vector<std::uint8_t> on;  // (n): 1 where every neuron of the set is on
};

// The second pass: which units of text have every neuron of each set on.
void mark_together(Model& model, const TracedText& text, std::int64_t n,
                   const std::vector<TracedSignal>& signals, std::vector<Together>& together,
                   const InspectOptions& options) {
  std::vector<std::span<const float>> flat;
  std::int64_t done = 0;  // units delivered, which come in any order
  trace_text_any_order(
      model, std::span<const std::int32_t>(text.ids.data(), static_cast<std::size_t>(n)),
      [&](const TraceChunk& chunk) {
        if (chunk.retract) {  // each unit's flags are written in place by the right rows
          done -= chunk.T;
          return;
        }
        flatten(chunk, flat);
        for (auto& tg : together) {
          if (tg.set.empty()) continue;
          for (std::int64_t t = 0; t < chunk.T; ++t) {
            bool all = true;
            for (const auto& u : tg.set) {
              const auto at = static_cast<std::size_t>(t * signals[u.signal].hidden + u.unit);
              all = all && u.on_off.on(flat[u.signal][at]);
            }
            tg.on[static_cast<std::size_t>(chunk.begin + t)] = all;
          }
        }
        done += chunk.T;
        if (options.progress) options.progress(n + done, 2 * n);
      },
      [&] { done = 0; },  // every unit is written again
      options.trace);
}

// Where the set is on together: its share of the selection and of the rest, and the longest
// stretches (2 units or more) that do not touch the selection.
void find_matches(const Together& tg, const Probe& selection, const TracedText& text,
                  std::int64_t n, const InspectOptions& options, ReportSelection& rs) {
  rs.together = tg.set.size();
  if (tg.set.empty()) return;
  auto selected = [&](std::int64_t u) {
    return selection.values[static_cast<std::size_t>(u)] >= 0.5f;
  };
  auto on = [&](std::int64_t u) { return tg.on[static_cast<std::size_t>(u)] != 0; };
  std::int64_t inside = 0, outside = 0;
  for (std::int64_t u = 0; u < n; ++u)
    if (on(u)) ++(selected(u) ? inside : outside);
  rs.together_inside = static_cast<double>(inside) / static_cast<double>(rs.selected);
  rs.together_outside = static_cast<double>(outside) / static_cast<double>(n - rs.selected);
  std::vector<std::pair<std::int64_t, std::int64_t>> runs;
  for (std::int64_t u = 0; u < n;) {
    if (!on(u)) {
      ++u;
      continue;
    }
    std::int64_t v = u;
    bool touches = false;
    for (; v < n && on(v); ++v) touches = touches || selected(v);
    if (!touches && v - u >= 2) runs.emplace_back(u, v);
    u = v;
  }
  rs.stretches = static_cast<std::int64_t>(runs.size());
  std::stable_sort(runs.begin(), runs.end(), [](const auto& a, const auto& b) {
    return a.second - a.first > b.second - b.first;
  });
  if (runs.size() > options.matches) runs.resize(options.matches);
  for (const auto& [b, e] : runs) {
    ReportMatch m;
    m.begin = b;
    m.end = e;
    m.context_begin = std::max<std::int64_t>(0, b - options.match_context);
    const std::int64_t context_end = std::min(n, e + options.match_context);
    for (std::int64_t u = m.context_begin; u < context_end; ++u) m.units.emplace_back(text.unit(u));
    rs.matches.push_back(std::move(m));
  }
}

}  // namespace

InspectReport inspect_model(Model& model, const TracedText& text, const std::vector<Probe>& probes,
                            const InspectOptions& options, const std::vector<Probe>& selections) {
  const std::int64_t total = text.units();
  const std::int64_t n = options.max_units > 0 ? std::min(options.max_units, total) : total;
  check_inputs(text, probes, selections, n);

  const std::vector<TracedSignal> signals = traced_signals(model);
  std::vector<const Probe*> probe_ptrs;
  for (const auto& p : probes) probe_ptrs.push_back(&p);
  for (const auto& s : selections) probe_ptrs.push_back(&s);
  UnitRanker ranker(signals, probe_ptrs, options.ranking);
  Excerpt excerpt(signals, options, n);
  LossSum loss;
  const std::int32_t V = model.vocab_size();
  // A second pass follows when there are selections: progress counts both.
  const std::int64_t work = selections.empty() ? n : 2 * n;

  std::vector<std::span<const float>> flat;  // chunk.signals flattened in `signals` order
  std::int64_t done = 0;                     // units delivered, which come in any order
  const TraceStats traced = trace_text_any_order(
      model, std::span<const std::int32_t>(text.ids.data(), static_cast<std::size_t>(n)),
      [&](const TraceChunk& chunk) {
        flatten(chunk, flat);
        ranker.add(chunk.begin, chunk.T, flat, chunk.retract);
        add_loss(chunk, text, n, V, loss, excerpt);
        if (chunk.retract) {  // the right rows come in another chunk
          done -= chunk.T;
          return;
        }
        excerpt.add_rows(chunk, flat, signals);
        done += chunk.T;
        if (options.progress) options.progress(done, work);
      },
      [&] {  // the excerpt's rows and losses are all written again
        ranker = UnitRanker(signals, probe_ptrs, options.ranking);
        loss = {};
        done = 0;
      },
      options.trace);

  InspectReport rep;
  rep.unit_kind.clear();
  rep.layers = describe_layers(model);
  rep.units = n;
  rep.text_units = total;
  rep.mean_loss = loss.count ? loss.nats / static_cast<double>(loss.count) : std::nan("");
  rep.excerpt_begin = excerpt.begin;
  for (std::int64_t u = excerpt.begin; u < excerpt.end; ++u) rep.excerpt.emplace_back(text.unit(u));
  rep.excerpt_loss = std::move(excerpt.loss);
  for (std::size_t p = 0; p < probes.size(); ++p)
    rep.probes.push_back(
        report_probe(probes[p], ranker.top(p, options.top), signals, excerpt, n, options.html_top));

  std::vector<Together> together;
  bool second_pass = false;
  for (std::size_t s = 0; s < selections.size(); ++s) {
    const auto top = ranker.top_on_off(probes.size() + s, options.top);
    ReportSelection rs;
    rs.probe = report_probe(selections[s], top, signals, excerpt, n, options.html_top);
    rs.selected = count_selected(selections[s], n);
    rs.by_r = report_units(ranker.top(probes.size() + s, options.top), signals, excerpt, 0);
    together.push_back({together_set(top, options.match_neurons), {}});
    if (!together.back().set.empty()) {
      together.back().on.assign(static_cast<std::size_t>(n), 0);
      second_pass = true;
    }
    rep.selections.push_back(std::move(rs));
  }
  if (second_pass)
    mark_together(model, text, n, signals, together, options);
  else if (options.progress && work > n)
    options.progress(work, work);
  for (std::size_t s = 0; s < selections.size(); ++s)
    find_matches(together[s], selections[s], text, n, options, rep.selections[s]);

  rep.saturation = ranker.saturation();
  rep.trace = traced;
  return rep;
}

}  // namespace charnn
