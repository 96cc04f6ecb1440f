// Inspection reports: what `charnn inspect` found, as a terminal table and as one
// self-contained HTML page (inline CSS, no scripts or fonts fetched, no network): the units
// that best track each probe with the text coloured by their activation (blue -1 .. white 0 ..
// red +1, as in Karpathy, Johnson and Fei-Fei 2015), the value on hover, the model's surprise
// per unit, a table of units and the gate saturation of LSTM layers.
#pragma once

#include <charnn/html_escape.hpp>
#include <charnn/probes.hpp>
#include <charnn/ranking.hpp>
#include <charnn/trace.hpp>

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

namespace charnn {

// One ranked unit, with names resolved so the report needs no ranker.
struct ReportUnit {
  std::int32_t layer = 0;
  std::string signal;  // "h", "c", "i", ...
  std::int64_t unit = 0;
  double r = 0;      // Pearson; NaN when undefined
  double auroc = 0;  // NaN for continuous probes
  // (excerpt units) activation over the excerpt; empty when not drawn in the HTML report.
  std::vector<float> excerpt;
  OnOff on_off{};  // selections only: the neuron thresholded against the selection
};

struct ReportProbe {
  std::string name, description;
  ProbeKind kind = ProbeKind::binary;
  double mean = 0;              // over the analysed units (fraction of 1s for binary probes)
  std::vector<float> excerpt;   // (excerpt units) the probe's own values
  std::vector<ReportUnit> top;  // best first by |r|
};

// A stretch of text outside a selection where the selection's neurons are on together.
struct ReportMatch {
  std::int64_t begin = 0, end = 0;  // the stretch: units [begin, end) of the text
  std::int64_t context_begin = 0;   // first unit of `units`
  std::vector<std::string> units;   // the stretch with some context on each side, raw UTF-8
};

// The hypothesis search for one selection (--select, --select-span).
struct ReportSelection {
  ReportProbe probe;             // the selection as a binary probe; top ranked by on/off score
  std::int64_t selected = 0;     // units marked
  std::vector<ReportUnit> by_r;  // the same number of neurons ranked by |r| instead
  // The first `together` neurons of probe.top, each on its own side of its threshold, define
  // "on together"; the fractions of the selection and of the rest of the text where they are.
  std::size_t together = 0;
  double together_inside = 0, together_outside = 0;
  std::int64_t stretches = 0;        // stretches of 2 or more units on together outside it
  std::vector<ReportMatch> matches;  // the longest of them, longest first
};

struct InspectReport {
  std::string model;                 // checkpoint path as given to the user
  std::string text;                  // text file(s)
  std::string unit_kind;             // "grapheme", ...
  std::string layers;                // e.g. "lstm(256) > lstm(256)"
  std::int64_t units = 0;            // units analysed
  std::int64_t text_units = 0;       // units in the whole text
  double mean_loss = 0;              // nats per predicted unit over the analysed units
  std::int64_t excerpt_begin = 0;    // index of the excerpt's first unit in the text
  std::vector<std::string> excerpt;  // (excerpt units) the units themselves, raw UTF-8
  std::vector<float> excerpt_loss;   // (excerpt units) nats; NaN where nothing predicted it
  std::vector<ReportProbe> probes;
  std::vector<ReportSelection> selections;
  std::vector<GateSaturation> saturation;
  TraceStats trace;        // how the trace ran (streams, seams re-run)
  std::string curves_svg;  // the model's loss curves (loss_curves.hpp); empty = none
};

// Fixed-width table: per probe its top units (layer, signal, unit, r, AUROC), then each
// selection's neurons and matches, then the gate saturation per layer and gate. Plain ASCII apart
// from the probe names the user chose.
void write_terminal_report(std::ostream& out, const InspectReport& report);

// How a neuron's values become colours in the HTML page. scaled: each drawn neuron from blue to
// red over its own 2nd to 98th percentile in the excerpt, so that one whose values sit far from
// 0 (an LSTM cell state) still shows its variation; raw: gates 0 blue to 1 red, tanh-range
// signals -1 to +1, unbounded ones through tanh (the paper's figures).
enum class ReportColours { scaled, raw };

// The HTML page. Units are HTML-escaped; control characters and lone combining marks are shown
// escaped (escape_unit), a tab as itself (columns kept) under a quiet arrow, a newline as a
// visible return sign and a line break.
void write_html_report(std::ostream& out, const InspectReport& report,
                       ReportColours colours = ReportColours::scaled);


}  // namespace charnn
