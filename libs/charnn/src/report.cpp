// Terminal and HTML inspection reports (see report.hpp). The HTML page is one file: colours are
// 21 CSS classes (blue .. white .. red) so each unit costs one short <span> with its value in the
// title attribute, which every browser shows on hover without any script.
#include "charnn/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ostream>

#include "charnn/text.hpp"
#include "report_parts.hpp"

namespace charnn {
namespace detail {

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

std::string fmt_r(double v) {
  return std::isnan(v) ? "-" : fmt("%.3f", v);
}

std::string pad(std::string s, std::size_t width, bool right) {
  if (s.size() >= width) return s;
  const std::string fill(width - s.size(), ' ');
  return right ? fill + s : s + fill;
}

}  // namespace detail

namespace {

using detail::fmt;
using detail::fmt_r;
using detail::pad;

// Colour level in [-10, 10] for a value already mapped to [-1, 1].
int level(double v) {
  if (std::isnan(v)) return 0;
  return static_cast<int>(std::lround(std::clamp(v, -1.0, 1.0) * 10.0));
}

std::string level_class(int lv) {
  if (lv == 0) return {};
  std::string cls(1, lv < 0 ? 'n' : 'p');  // built by append: GCC 12 warns on "n" + string
  cls += std::to_string(lv < 0 ? -lv : lv);
  return cls;
}

// Maps a neuron's activations onto [-1, 1] for colouring (ReportColours): its own robust range
// (scaled), or as the paper's figures do (raw): gates from [0, 1], tanh-range signals as they
// are, unbounded ones (the LSTM cell c) through tanh.
struct ColourMap {
  enum { scaled, gate, identity, squash } kind = identity;
  double lo = 0, hi = 0;  // scaled: the values drawn blue and red
  double operator()(double v) const {
    switch (kind) {
      case scaled:
        return hi > lo ? -1.0 + 2.0 * (v - lo) / (hi - lo) : 0.0;
      case gate:
        return 2.0 * v - 1.0;
      case squash:
        return std::tanh(v);
      default:
        return v;
    }
  }
  std::string label() const {
    switch (kind) {
      case scaled:
        if (!(hi > lo)) return "colour: constant " + fmt("%.3g", lo) + ", white";
        return "colour: its 2nd to 98th percentile here, " + fmt("%.3g", lo) + " blue, " +
               fmt("%.3g", (lo + hi) / 2) + " white, " + fmt("%.3g", hi) + " red";
      case gate:
        return "colour: 0 blue, 0.5 white, 1 red";
      case squash:
        return "colour: tanh(value), -1 blue, +1 red";
      default:
        return "colour: -1 blue, 0 white, +1 red";
    }
  }
};

ColourMap colour_map_for(const ReportUnit& u, ReportColours colours) {
  ColourMap m;
  if (colours == ReportColours::scaled) {
    std::vector<float> v;
    for (float x : u.excerpt)
      if (std::isfinite(x)) v.push_back(x);
    m.kind = ColourMap::scaled;
    if (v.empty()) return m;
    std::sort(v.begin(), v.end());
    const double last = static_cast<double>(v.size() - 1);
    m.lo = v[static_cast<std::size_t>(std::floor(0.02 * last))];
    m.hi = v[static_cast<std::size_t>(std::ceil(0.98 * last))];
    // A range within float rounding of its values is a constant, drawn white.
    if (m.hi - m.lo <= 1e-6 * std::max(1.0, std::fabs(m.hi))) m.hi = m.lo;
  } else if (is_gate_signal(u.signal)) {
    m.kind = ColourMap::gate;
  } else {
    float peak = 0;
    for (float v : u.excerpt) peak = std::max(peak, std::fabs(v));
    m.kind = peak > 1.0001f ? ColourMap::squash : ColourMap::identity;
  }
  return m;
}

// One unit of text as HTML: visible, escaped, newline kept as a line break, a tab as itself (its
// span's class t draws the quiet arrow over it, taking no width, so columns stay).
void write_unit_text(std::ostream& out, const std::string& unit) {
  if (unit == "\n") {
    out << "\u21B5";  // the line break itself follows the closing tag
  } else if (unit == "\t") {
    out << '\t';
  } else if (unit == " ") {
    out << ' ';
  } else {
    out << html_escape(escape_unit(unit));
  }
}

std::string css() {
  std::string s =
      "body{font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;"
      "margin:24px auto;max-width:1300px;padding:0 16px;color:#1a1a1a;background:#fff}"
      "h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:28px 0 8px;"
      "border-bottom:1px solid #ddd;padding-bottom:4px}h3{font-size:16px;margin:18px 0 6px}"
      ".meta{color:#555;font-size:14px;line-height:1.5}"
      // On a phone the views stack and wide tables scroll inside themselves, not the page.
      ".views{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(600px,100%),1fr));"
      "gap:0 16px}"
      ".view{margin:10px 0 16px;min-width:0}.label{font-size:13px;color:#333;margin:0 0 3px;"
      "overflow-wrap:anywhere;"
      "font-family:ui-monospace,Menlo,Consolas,monospace}"
      ".text{font-family:ui-monospace,'DejaVu Sans Mono',Menlo,Consolas,monospace;"
      "font-size:13px;line-height:1.55;white-space:pre-wrap;word-break:break-all;"
      "border:1px solid #ccc;padding:8px;background:#fff;max-height:420px;overflow:auto}"
      ".text span{padding:1px 0}.text{tab-size:8}"
      ".t{position:relative}.t::before{content:'\\2192';position:absolute;left:1px;color:#999}"
      "table{border-collapse:collapse;font-size:13px;margin:6px 0;display:block;overflow-x:auto;"
      "max-width:100%}"
      "th,td{border:1px solid #ccc;padding:3px 8px;text-align:right;white-space:nowrap}"
      "th{background:#f2f2f2}td.l,th.l{text-align:left}"
      ".legend span{display:inline-block;width:18px;height:12px;vertical-align:middle}"
      ".note{background:#fff8e0;border:1px solid #e8d9a0;padding:6px 10px;font-size:13px}"
      "svg text{font-size:11px;font-family:system-ui,sans-serif}"
      ".curves svg{max-width:100%;height:auto}";
  // Diverging palette: white to blue (33,102,172) for n1..n10, to red (178,24,43) for p1..p10.
  for (int lv = 1; lv <= 10; ++lv) {
    const double a = lv / 10.0;
    auto mix = [&](int c) { return static_cast<int>(std::lround(255 + (c - 255) * a)); };
    char buf[160];
    const char* ink = lv >= 7 ? "color:#fff;" : "";
    std::snprintf(buf, sizeof buf, ".n%d{background:rgb(%d,%d,%d);%s}", lv, mix(33), mix(102),
                  mix(172), ink);
    s += buf;
    std::snprintf(buf, sizeof buf, ".p%d{background:rgb(%d,%d,%d);%s}", lv, mix(178), mix(24),
                  mix(43), ink);
    s += buf;
  }
  return s;
}

// Gate saturation scatter for one layer, as in the paper's figure 3: x = fraction of time a
// neuron is left-saturated (< 0.1), y = right-saturated (> 0.9); one dot per neuron and gate.
void write_saturation_svg(std::ostream& out, const std::vector<const GateSaturation*>& gates,
                          std::int32_t layer) {
  const int W = 300, M = 36, S = W - 2 * M;
  out << "<svg width=" << W << " height=" << W << " viewBox=\"0 0 " << W << ' ' << W
      << "\" role=img aria-label=\"gate saturation of layer " << layer << "\">"
      << "<rect x=" << M << " y=" << M << " width=" << S << " height=" << S
      << " fill=#fafafa stroke=#999 />"
      // A neuron cannot be saturated on both sides at once: dots lie below left + right = 1.
      << "<line x1=" << M << " y1=" << M << " x2=" << M + S << " y2=" << M + S << " stroke=#ddd />"
      << "<text x=" << W / 2 << " y=" << W - 6 << " text-anchor=middle>fraction left-saturated "
      << "(&lt; 0.1)</text><text transform=\"translate(12," << W / 2
      << ") rotate(-90)\" text-anchor=middle>fraction right-saturated (&gt; 0.9)</text>"
      << "<text x=" << M << " y=" << M + S + 13 << " text-anchor=middle>0</text><text x=" << M + S
      << " y=" << M + S + 13 << " text-anchor=middle>1</text><text x=" << M - 6 << " y=" << M + 4
      << " text-anchor=end>1</text>"
      << "<text x=" << W / 2 << " y=" << 20 << " text-anchor=middle font-weight=bold>layer "
      << layer << "</text>";
  const char* colours[] = {"#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e"};
  for (std::size_t g = 0; g < gates.size(); ++g) {
    const char* col = colours[g % 5];
    for (std::size_t h = 0; h < gates[g]->left.size(); ++h) {
      out << "<circle cx=" << fmt("%.1f", M + S * gates[g]->left[h])
          << " cy=" << fmt("%.1f", M + S * (1.0 - gates[g]->right[h]))
          << " r=2.6 fill-opacity=0.6 fill=\"" << col << "\"/>";
    }
    // Legend in the top-right corner, the empty half of the plot.
    out << "<circle cx=" << M + S - 70 + 25 * static_cast<int>(g) << " cy=" << M + 12
        << " r=4 fill=\"" << col << "\"/><text x=" << M + S - 63 + 25 * static_cast<int>(g)
        << " y=" << M + 16 << ">" << html_escape(gates[g]->gate) << "</text>";
  }
  out << "</svg>\n";
}

// A probe that never varies over the analysed text (no brackets in it, say) has no r at all.
bool constant_probe(const ReportProbe& p) {
  return std::all_of(p.top.begin(), p.top.end(),
                     [](const ReportUnit& u) { return std::isnan(u.r); });
}

const char* kConstantNote = "constant over the analysed text: nothing to correlate";

const char* kind_name(ProbeKind kind) {
  return kind == ProbeKind::binary ? "binary" : "continuous";
}

void write_html_head(std::ostream& out, const InspectReport& rep) {
  out << "<!DOCTYPE html>\n<html lang=en>\n<head>\n<meta charset=utf-8>\n"
      << "<meta name=viewport content=\"width=device-width, initial-scale=1\">\n"
      << "<title>charnn inspect: " << html_escape(rep.model) << "</title>\n<style>" << css()
      << "</style>\n</head>\n<body>\n";
}

void write_html_summary(std::ostream& out, const InspectReport& rep) {
  out << "<h1>charnn inspect</h1>\n<div class=meta>model <b>" << html_escape(rep.model) << "</b> ("
      << html_escape(rep.layers) << ")<br>text <b>" << html_escape(rep.text)
      << "</b>: " << rep.units << " of " << rep.text_units << ' ' << html_escape(rep.unit_kind)
      << " units analysed; mean loss " << fmt("%.4f", rep.mean_loss)
      << " nats = " << fmt("%.4f", rep.mean_loss / std::log(2.0)) << " bits per unit</div>\n";
  const auto excerpt_end = rep.excerpt_begin + static_cast<std::int64_t>(rep.excerpt.size());
  out << "<p class=note>The text views show units " << rep.excerpt_begin << " to " << excerpt_end
      << " of " << rep.text_units;
  if (static_cast<std::int64_t>(rep.excerpt.size()) < rep.text_units)
    out << " (an excerpt; choose another with --html-from and --html-units)";
  out << ". Each character's background is the value after reading it; hover for the number."
      << "</p>\n";
}

void write_html_unit_table(std::ostream& out, const InspectReport& rep) {
  if (rep.probes.empty()) return;
  out << "<h2>Neurons that track each probe</h2>\n<table>\n<tr><th class=l>probe</th>"
         "<th class=l>kind</th><th>#</th><th>layer</th><th class=l>signal</th><th>neuron</th>"
         "<th>r</th><th>AUROC</th></tr>\n";
  for (const auto& p : rep.probes) {
    if (constant_probe(p)) {
      out << "<tr><td class=l>" << html_escape(p.name) << "</td><td class=l>" << kind_name(p.kind)
          << "</td><td colspan=6 class=l>" << kConstantNote << "</td></tr>\n";
      continue;
    }
    for (std::size_t k = 0; k < p.top.size(); ++k) {
      const auto& u = p.top[k];
      out << "<tr><td class=l>";
      if (k == 0)
        out << "<a href=\"#probe-" << html_escape(p.name) << "\">" << html_escape(p.name) << "</a>";
      out << "</td><td class=l>" << (k == 0 ? kind_name(p.kind) : "") << "</td><td>" << k + 1
          << "</td><td>" << u.layer << "</td><td class=l>" << html_escape(u.signal) << "</td><td>"
          << u.unit << "</td><td>" << fmt_r(u.r) << "</td><td>" << fmt_r(u.auroc) << "</td></tr>\n";
    }
  }
  out << "</table>\n<p class=meta>r: Pearson correlation of the neuron's value with the probe over "
         "all analysed units of text. AUROC (binary probes): probability that the neuron is "
         "higher on a random unit of text where the probe is 1 than on one where it is 0 (0.5 = "
         "chance, values below 0.5 mean the neuron is lower inside), from 256-bin "
         "histograms.</p>\n";
}

void write_html_probe_panels(std::ostream& out, const InspectReport& rep, ReportColours colours) {
  if (rep.probes.empty()) return;
  out << "<h2>Probes on the text</h2>\n";
  detail::write_legend(out);
  for (const auto& p : rep.probes) {
    if (constant_probe(p)) continue;
    out << "<h3 id=\"probe-" << html_escape(p.name) << "\">" << html_escape(p.name) << "</h3>\n"
        << "<div class=meta>" << html_escape(p.description) << "; mean " << fmt("%.3g", p.mean)
        << "</div>\n";
    out << "<div class=views>\n";
    detail::write_probe_view(out, rep, p);
    // Only the first html_top neurons carry an excerpt; the rest are in the table alone.
    for (std::size_t k = 0; k < p.top.size(); ++k)
      if (!p.top[k].excerpt.empty()) detail::write_unit_view(out, rep, p, k, colours);
    out << "</div>\n";  // views
  }
}

// Surprise: the loss of each unit of the excerpt.
void write_html_loss(std::ostream& out, const InspectReport& rep) {
  out << "<h2 id=loss>Loss per unit (how surprised the model was)</h2>\n"
      << "<div class=meta>-log2 p(unit | everything before it), white 0 bits to red 8 bits or "
         "more; hover for the value in bits.</div>\n";
  std::vector<float> bits(rep.excerpt_loss.size());
  std::vector<double> mapped(bits.size());
  for (std::size_t i = 0; i < bits.size(); ++i) {
    bits[i] = static_cast<float>(rep.excerpt_loss[i] / std::log(2.0));
    mapped[i] = std::isnan(bits[i]) ? 0.0 : std::min(1.0, bits[i] / 8.0);
  }
  out << "<div class=view>";
  detail::write_coloured_text(out, rep.excerpt, rep.excerpt_begin, bits, mapped);
  out << "</div>\n";
}

void write_html_saturation(std::ostream& out, const InspectReport& rep) {
  if (rep.saturation.empty()) return;  // no gated layer
  out << "<h2>Gate saturation</h2>\n<div class=meta>For each gate neuron, the fraction of the "
         "text during which it is left-saturated (&lt; 0.1) or right-saturated (&gt; 0.9), "
         "as in Karpathy, Johnson and Fei-Fei (2015), figure 3.</div>\n<table>\n<tr><th>layer"
         "</th><th class=l>gate</th><th>mean left</th><th>mean right</th><th>neurons left "
         "&gt; 50%</th><th>neurons right &gt; 50%</th></tr>\n";
  for (const auto& g : rep.saturation)
    out << "<tr><td>" << g.layer << "</td><td class=l>" << html_escape(g.gate) << "</td><td>"
        << fmt("%.3f", g.mean_left()) << "</td><td>" << fmt("%.3f", g.mean_right()) << "</td><td>"
        << g.count_left() << '/' << g.left.size() << "</td><td>" << g.count_right() << '/'
        << g.right.size() << "</td></tr>\n";
  out << "</table>\n<div>";
  std::vector<std::int32_t> layers;
  for (const auto& g : rep.saturation)
    if (std::find(layers.begin(), layers.end(), g.layer) == layers.end()) layers.push_back(g.layer);
  for (auto l : layers) {
    std::vector<const GateSaturation*> gates;
    for (const auto& g : rep.saturation)
      if (g.layer == l) gates.push_back(&g);
    write_saturation_svg(out, gates, l);
  }
  out << "</div>\n";
}

}  // namespace

namespace detail {

void write_coloured_text(std::ostream& out, const std::vector<std::string>& units,
                         std::int64_t first_unit, const std::vector<float>& raw,
                         const std::vector<double>& mapped) {
  out << "<div class=text>";
  for (std::size_t i = 0; i < units.size(); ++i) {
    const double v = i < raw.size() ? raw[i] : std::nan("");
    std::string cls = level_class(level(i < mapped.size() ? mapped[i] : 0.0));
    if (units[i] == "\t") cls += cls.empty() ? "t" : " t";
    out << "<span";
    if (cls.find(' ') != std::string::npos)
      out << " class=\"" << cls << '"';
    else if (!cls.empty())
      out << " class=" << cls;
    out << " title=\"unit " << first_unit + static_cast<std::int64_t>(i) << ": "
        << (std::isnan(v) ? std::string("-") : fmt("%.3g", v)) << "\">";
    write_unit_text(out, units[i]);
    out << "</span>";
    if (units[i] == "\n") out << "\n";
  }
  out << "</div>\n";
}

void write_legend(std::ostream& out) {
  out << "<div class=\"legend meta\">low ";
  for (int lv = -10; lv <= 10; lv += 2) {
    const std::string cls = level_class(lv);
    out << "<span"
        << (cls.empty() ? std::string(" style=\"border:1px solid #ccc\"") : " class=" + cls)
        << "></span>";
  }
  out << " high &nbsp; (each view's label gives its scale; hover over a character for its index "
         "and "
         "value)</div>\n";
}

void write_probe_view(std::ostream& out, const InspectReport& rep, const ReportProbe& p,
                      const char* what) {
  float lo = 0, hi = 0;
  if (!p.excerpt.empty()) {
    lo = *std::min_element(p.excerpt.begin(), p.excerpt.end());
    hi = *std::max_element(p.excerpt.begin(), p.excerpt.end());
  }
  std::vector<double> mapped(p.excerpt.size());
  for (std::size_t i = 0; i < p.excerpt.size(); ++i)
    mapped[i] = hi > lo ? -1.0 + 2.0 * (p.excerpt[i] - lo) / (hi - lo) : 0.0;
  out << "<div class=view><div class=label>" << what << " itself (min " << fmt("%.3g", lo)
      << " blue, max " << fmt("%.3g", hi) << " red)</div>\n";
  write_coloured_text(out, rep.excerpt, rep.excerpt_begin, p.excerpt, mapped);
  out << "</div>\n";
}

void write_unit_view(std::ostream& out, const InspectReport& rep, const ReportProbe& p,
                     std::size_t k, ReportColours colours, const std::string& label_extra) {
  const auto& u = p.top[k];
  const ColourMap cmap = colour_map_for(u, colours);
  std::vector<double> m(u.excerpt.size());
  for (std::size_t i = 0; i < u.excerpt.size(); ++i) m[i] = cmap(u.excerpt[i]);
  out << "<div class=view><div class=label>#" << k + 1 << ": layer " << u.layer << ' '
      << html_escape(u.signal) << '[' << u.unit << "]  r = " << fmt_r(u.r);
  if (p.kind == ProbeKind::binary) out << "  AUROC = " << fmt_r(u.auroc);
  out << label_extra << "  (" << cmap.label() << ")</div>\n";
  write_coloured_text(out, rep.excerpt, rep.excerpt_begin, u.excerpt, m);
  out << "</div>\n";
}

}  // namespace detail

void write_terminal_report(std::ostream& out, const InspectReport& rep) {
  out << "model: " << rep.model << " (" << rep.layers << ")\n"
      << "text:  " << rep.text << ", " << rep.units << " of " << rep.text_units << " "
      << rep.unit_kind << " units analysed\n"
      << "loss:  " << fmt("%.4f", rep.mean_loss)
      << " nats = " << fmt("%.4f", rep.mean_loss / std::log(2.0)) << " bits per unit\n";
  if (rep.trace.streams > 1 || rep.trace.restarted_at >= 0)
    out << "trace: " << describe(rep.trace) << "\n";
  if (!rep.probes.empty())  // --no-builtin with selections alone has none
    out << "\n"
        << pad("probe", 16) << pad("kind", 11) << pad("#", 3, true) << pad("layer", 7, true) << "  "
        << pad("signal", 7) << pad("neuron", 7, true) << pad("r", 9, true) << pad("AUROC", 8, true)
        << "\n";
  for (const auto& p : rep.probes) {
    if (constant_probe(p)) {
      out << pad(p.name, 16) << pad(kind_name(p.kind), 11) << "   " << kConstantNote << "\n";
      continue;
    }
    for (std::size_t k = 0; k < p.top.size(); ++k) {
      const auto& u = p.top[k];
      out << pad(k == 0 ? p.name : "", 16) << pad(k == 0 ? kind_name(p.kind) : "", 11)
          << pad(std::to_string(k + 1), 3, true) << pad(std::to_string(u.layer), 7, true) << "  "
          << pad(u.signal, 7) << pad(std::to_string(u.unit), 7, true) << pad(fmt_r(u.r), 9, true)
          << pad(fmt_r(u.auroc), 8, true) << "\n";
    }
  }
  if (!rep.saturation.empty()) {
    out << "\ngate saturation (fraction of time < 0.1 | > 0.9, mean over neurons; "
           "neurons saturated more than half the time)\n"
        << pad("layer", 5, true) << "  " << pad("gate", 5) << pad("left", 8, true)
        << pad("right", 8, true) << pad("neurons>50%left", 17, true)
        << pad("neurons>50%right", 18, true) << "\n";
    for (const auto& g : rep.saturation) {
      out << pad(std::to_string(g.layer), 5, true) << "  " << pad(g.gate, 5)
          << pad(fmt("%.3f", g.mean_left()), 8, true) << pad(fmt("%.3f", g.mean_right()), 8, true)
          << pad(std::to_string(g.count_left()) + "/" + std::to_string(g.left.size()), 17, true)
          << pad(std::to_string(g.count_right()) + "/" + std::to_string(g.right.size()), 18, true)
          << "\n";
    }
  }
  detail::write_terminal_selections(out, rep);  // last: what the user asked about
}

void write_html_report(std::ostream& out, const InspectReport& rep, ReportColours colours) {
  write_html_head(out, rep);
  write_html_summary(out, rep);
  detail::write_html_selections(out, rep, colours);  // first: what the user asked about
  write_html_unit_table(out, rep);
  write_html_probe_panels(out, rep, colours);
  write_html_loss(out, rep);
  write_html_saturation(out, rep);
  if (!rep.curves_svg.empty())
    out << "<h2>How the model was trained</h2>\n<div class=meta>From the run's metrics.csv: "
           "training and validation loss against minutes and units seen, the best validation "
           "ringed.</div>\n<div class=curves>"
        << rep.curves_svg << "</div>\n";
  out << "<p class=meta>Written by charnn inspect.</p>\n</body>\n</html>\n";
}

}  // namespace charnn
