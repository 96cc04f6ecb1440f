// Inspection: run a trained model over a text (as one stream carried from the zero state across
// the whole text computes it; trace.hpp) and rank every traced unit (h, c, gates of every layer)
// against the probes. Memory is bounded by the trace's block, the ranking sums and the HTML
// excerpt, never by the length of the text.
#pragma once

#include <charnn/model.hpp>
#include <charnn/probes.hpp>
#include <charnn/ranking.hpp>
#include <charnn/report.hpp>
#include <charnn/trace.hpp>
#include <charnn/unknown_units.hpp>
#include <charnn/vocab.hpp>

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace charnn {

// A text as the model sees it: cleaned, cut into units and encoded.
struct TracedText {
  std::string text;                       // cleaned (skipped units removed)
  std::vector<std::uint64_t> boundaries;  // (units + 1) byte offsets of unit starts into text
  std::vector<std::int32_t> ids;          // (units)
  std::vector<std::string> unknown;       // distinct units not in the vocabulary, escaped
  std::int64_t unknown_count = 0;         // how many units were unknown (skipped or mapped)
  std::int64_t units() const { return static_cast<std::int64_t>(ids.size()); }
  std::string_view unit(std::int64_t i) const {
    const auto b = boundaries[static_cast<std::size_t>(i)];
    return std::string_view(text).substr(b, boundaries[static_cast<std::size_t>(i) + 1] - b);
  }
};

// Encodes already-cleaned text (read_text with vocab.text_options()). Units not in the
// vocabulary: error throws listing them (escaped, at most 20) with a hint naming --unknown;
// skip removes them from the text; map uses the vocabulary's unknown symbol (an error when it
// has none). An empty text is an error naming `source`.
TracedText prepare_text(std::string cleaned, const Vocab& vocab, UnknownUnits unknown,
                        const std::string& source);

// "lstm(512) > lstm(512)"
std::string describe_layers(const Model& model);

struct InspectOptions {
  std::size_t top = 5;                // units per probe in the table
  std::size_t html_top = 3;           // of those, how many are drawn over the excerpt
  std::int64_t max_units = 0;         // analyse only the first N units of the text; 0 = all
  std::int64_t excerpt_begin = 0;     // first unit of the excerpt shown in the HTML report
  std::int64_t excerpt_units = 2000;  // its length (clipped to the analysed units)
  // Hypothesis search (selections): of each selection's top neurons, up to match_neurons whose
  // on/off score is within 0.1 of the best (and above 0.5) must be on together for a stretch of
  // text to match; the longest `matches` stretches are kept with match_context units each side.
  std::size_t match_neurons = 3;
  std::size_t matches = 5;
  std::int64_t match_context = 30;
  TraceOptions trace;  // how the text is traced (trace.hpp)
  RankingOptions ranking;
  // Called after each chunk with units done and units to do.
  std::function<void(std::int64_t done, std::int64_t total)> progress;
};

// Runs the model and ranks. probes hold one value per unit of `text` (builtin_probes,
// regex_probe). Fills everything in InspectReport except model and text, which name the inputs
// and are the caller's. The excerpt keeps every traced column for its units (excerpt_units x
// total hidden units floats) so that the winners, known only at the end, can be drawn.
// selections (select_regex, select_span) rank every neuron by on/off matching; finding where a
// selection's neurons are on together then takes a second pass over the text, which holds one
// byte per unit of text and selection.
InspectReport inspect_model(Model& model, const TracedText& text, const std::vector<Probe>& probes,
                            const InspectOptions& options,
                            const std::vector<Probe>& selections = {});

}  // namespace charnn
