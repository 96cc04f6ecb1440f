// Inspection driver (see inspect.hpp): one pass of Model::trace feeds the streaming ranker, the
// per-unit loss and the excerpt kept for the HTML report.
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

InspectReport inspect_model(Model& model, const TracedText& text, const std::vector<Probe>& probes,
                            const InspectOptions& options) {
  const std::int64_t total = text.units();
  const std::int64_t n = options.max_units > 0 ? std::min(options.max_units, total) : total;
  if (n < 2)
    throw error("the text has " + std::to_string(n) + " unit" + (n == 1 ? "" : "s") +
                    "; inspection needs at least 2",
                "give a longer text");
  for (const auto& p : probes)
    if (static_cast<std::int64_t>(p.values.size()) != total)
      throw error("probe " + p.name + " has " + std::to_string(p.values.size()) +
                  " values for a text of " + std::to_string(total) + " units");
  if (options.chunk < 1) throw error("the trace chunk must be at least 1 unit");

  // Every signal of every layer, in layer then signal order; chunk.signals has the same shape.
  std::vector<TracedSignal> signals;
  for (std::int32_t l = 0; l < model.num_layers(); ++l)
    for (const auto& name : model.layer(l).signals())
      signals.push_back({l, name, model.layer(l).hidden_size()});
  std::vector<const Probe*> probe_ptrs;
  for (const auto& p : probes) probe_ptrs.push_back(&p);
  UnitRanker ranker(signals, probe_ptrs, options.ranking);

  std::vector<std::size_t> offset{0};  // first column of each signal in an excerpt row
  for (const auto& s : signals)
    offset.push_back(offset.back() + static_cast<std::size_t>(s.hidden));
  const std::size_t D = offset.back();

  const std::int64_t ex_begin = std::clamp<std::int64_t>(options.excerpt_begin, 0, n);
  const std::int64_t ex_end =
      std::min(n, ex_begin + std::max<std::int64_t>(0, options.excerpt_units));
  const auto ex_n = static_cast<std::size_t>(ex_end - ex_begin);
  std::vector<float> excerpt(ex_n * D);  // (excerpt units, D): every column, kept for drawing
  std::vector<float> excerpt_loss(ex_n, std::nanf(""));  // (excerpt units) nats
  double loss_sum = 0;
  std::int64_t loss_count = 0;
  const std::int32_t V = model.vocab_size();

  std::vector<std::span<const float>> flat;  // chunk.signals flattened in `signals` order
  Model::State state = model.zero_state(1);
  model.trace(
      std::span<const std::int32_t>(text.ids.data(), static_cast<std::size_t>(n)), state,
      [&](const Model::TraceChunk& chunk) {
        flat.clear();
        for (const auto& layer : chunk.signals)
          for (const auto& s : layer) flat.push_back(s);
        ranker.add(chunk.begin, chunk.T, flat);
        // Loss: row t predicts unit begin + t + 1, -log softmax at that unit's id.
        for (std::int64_t t = 0; t < chunk.T; ++t) {
          const std::int64_t target = chunk.begin + t + 1;
          if (target >= n) break;
          const float* z = chunk.logits.data() + t * V;
          const float zmax = *std::max_element(z, z + V);
          double sum = 0;
          for (std::int32_t v = 0; v < V; ++v) sum += std::exp(static_cast<double>(z[v] - zmax));
          const double nats = std::log(sum) + zmax - z[text.ids[static_cast<std::size_t>(target)]];
          loss_sum += nats;
          ++loss_count;
          if (target >= ex_begin && target < ex_end)
            excerpt_loss[static_cast<std::size_t>(target - ex_begin)] = static_cast<float>(nats);
        }
        // Excerpt rows that fall in this chunk.
        const std::int64_t lo = std::max(chunk.begin, ex_begin);
        const std::int64_t hi = std::min(chunk.begin + chunk.T, ex_end);
        for (std::int64_t u = lo; u < hi; ++u) {
          float* row = excerpt.data() + static_cast<std::size_t>(u - ex_begin) * D;
          for (std::size_t s = 0; s < signals.size(); ++s) {
            const auto H = static_cast<std::size_t>(signals[s].hidden);
            const float* src = flat[s].data() + static_cast<std::size_t>(u - chunk.begin) * H;
            std::copy(src, src + H, row + offset[s]);
          }
        }
        if (options.progress) options.progress(chunk.begin + chunk.T, n);
      },
      options.chunk);

  InspectReport rep;
  rep.unit_kind.clear();
  rep.layers = describe_layers(model);
  rep.units = n;
  rep.text_units = total;
  rep.mean_loss = loss_count ? loss_sum / static_cast<double>(loss_count) : std::nan("");
  rep.excerpt_begin = ex_begin;
  for (std::int64_t u = ex_begin; u < ex_end; ++u) rep.excerpt.emplace_back(text.unit(u));
  rep.excerpt_loss = std::move(excerpt_loss);
  for (std::size_t p = 0; p < probes.size(); ++p) {
    ReportProbe rp;
    rp.name = probes[p].name;
    rp.description = probes[p].description;
    rp.kind = probes[p].kind;
    rp.mean = std::accumulate(probes[p].values.begin(), probes[p].values.begin() + n, 0.0) /
              static_cast<double>(n);
    rp.excerpt.assign(probes[p].values.begin() + ex_begin, probes[p].values.begin() + ex_end);
    const auto top = ranker.top(p, options.top);
    for (std::size_t k = 0; k < top.size(); ++k) {
      const auto& sc = top[k];
      ReportUnit ru{signals[sc.signal].layer, signals[sc.signal].name, sc.unit, sc.r, sc.auroc, {}};
      if (k < options.html_top) {
        const std::size_t col = offset[sc.signal] + static_cast<std::size_t>(sc.unit);
        for (std::size_t i = 0; i < ex_n; ++i) ru.excerpt.push_back(excerpt[i * D + col]);
      }
      rp.top.push_back(std::move(ru));
    }
    rep.probes.push_back(std::move(rp));
  }
  rep.saturation = ranker.saturation();
  return rep;
}

}  // namespace charnn
