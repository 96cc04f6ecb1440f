// The hypothesis search in the inspection reports (see report.hpp, inspect.hpp): per selection,
// the neurons ranked by thresholded on/off matching, and the other stretches of text where the
// best of them are on together (LSTMVis's "match").
#include <cmath>
#include <ostream>

#include "charnn/text.hpp"
#include "report_parts.hpp"

namespace charnn::detail {
namespace {

// "on >= 0.25" or "on < -0.5": the side of the threshold where the neuron is on.
std::string on_when(const OnOff& o) {
  return std::string(o.above ? ">= " : "< ") + fmt("%.3g", o.threshold);
}

std::string percent(double fraction) {
  return fmt(fraction < 0.001 && fraction > 0 ? "%.2f%%" : "%.1f%%", 100.0 * fraction);
}

std::string count_of(std::int64_t part, std::int64_t whole) {
  return std::to_string(part) + " of " + std::to_string(whole) + " units (" +
         percent(static_cast<double>(part) / static_cast<double>(whole)) + ")";
}

// "neurons 1-3" or "neuron 1" of the ranking.
std::string together_names(std::size_t together) {
  return together == 1 ? std::string("neuron 1") : "neurons 1-" + std::to_string(together);
}

std::string together_summary(const ReportSelection& s) {
  if (s.together == 0)
    return "no neuron is on for more than half of the selection while off for more than half of "
           "the rest, so nothing is matched";
  return "the top " + together_names(s.together) + " (score within 0.1 of the best) " +
         (s.together == 1 ? "is on" : "are on together") + " at " +
         percent(s.together_inside) + " of the selection and " +
         percent(s.together_outside) + " of the rest of the text; " + std::to_string(s.stretches) +
         " stretch" + (s.stretches == 1 ? "" : "es") + " of 2 or more units outside the selection";
}

// The neurons ranked by correlation instead, for comparison: "by |r|: 1 h[396] 0.899, ...".
std::string by_r_line(const ReportSelection& s) {
  std::string line = "by |r|:";
  for (std::size_t k = 0; k < s.by_r.size(); ++k) {
    const auto& u = s.by_r[k];
    line += std::string(k ? ", " : " ") + std::to_string(u.layer) + " " + u.signal + "[" +
            std::to_string(u.unit) + "] " + fmt_r(u.r);
  }
  return line;
}

// A match on one line: the context escaped, the stretch between [[ and ]], a long stretch
// shortened in its middle.
std::string match_line(const ReportMatch& m) {
  std::string s;
  const std::int64_t shown = 60;
  for (std::size_t i = 0; i < m.units.size(); ++i) {
    const std::int64_t u = m.context_begin + static_cast<std::int64_t>(i);
    if (u == m.begin) s += "[[";
    const bool middle = u >= m.begin + shown / 2 && u < m.end - shown / 2;
    if (middle) {
      if (u == m.begin + shown / 2) s += " ... ";
    } else {
      s += escape_unit(m.units[i]);
    }
    if (u + 1 == m.end) s += "]]";
  }
  return s;
}

void write_terminal_selection(std::ostream& out, const InspectReport& rep,
                              const ReportSelection& s) {
  out << "\nselection " << s.probe.name << ": " << count_of(s.selected, rep.units) << "\n"
      << pad("#", 4, true) << pad("layer", 7, true) << "  " << pad("signal", 7)
      << pad("neuron", 7, true) << "  " << pad("on when", 12) << pad("score", 7, true)
      << pad("in on", 8, true) << pad("out off", 9, true) << pad("r", 8, true)
      << pad("AUROC", 8, true) << "\n";
  for (std::size_t k = 0; k < s.probe.top.size(); ++k) {
    const auto& u = s.probe.top[k];
    out << pad(std::to_string(k + 1), 4, true) << pad(std::to_string(u.layer), 7, true) << "  "
        << pad(u.signal, 7) << pad(std::to_string(u.unit), 7, true) << "  "
        << pad(on_when(u.on_off), 12) << pad(fmt("%.3f", u.on_off.score()), 7, true)
        << pad(fmt("%.3f", u.on_off.inside_on), 8, true)
        << pad(fmt("%.3f", u.on_off.outside_off), 9, true) << pad(fmt_r(u.r), 8, true)
        << pad(fmt_r(u.auroc), 8, true) << "\n";
  }
  out << by_r_line(s) << "\n" << together_summary(s) << "\n";
  if (s.matches.empty()) return;
  out << "the longest, [[marked]] in their context:\n";
  for (const auto& m : s.matches)
    out << "  units " << m.begin << "-" << m.end << " (" << m.end - m.begin
        << "): " << match_line(m) << "\n";
}

// A match in the page: its context plain, the stretch in red; hover gives each unit's index.
void write_html_match(std::ostream& out, const ReportMatch& m) {
  std::vector<float> raw;
  std::vector<double> mapped;
  for (std::size_t i = 0; i < m.units.size(); ++i) {
    const std::int64_t u = m.context_begin + static_cast<std::int64_t>(i);
    const bool in = u >= m.begin && u < m.end;
    raw.push_back(in ? 1.0f : 0.0f);
    mapped.push_back(in ? 0.5 : 0.0);
  }
  out << "<div class=view><div class=label>units " << m.begin << " to " << m.end << " ("
      << m.end - m.begin << ")</div>\n";
  write_coloured_text(out, m.units, m.context_begin, raw, mapped);
  out << "</div>\n";
}

void write_html_selection(std::ostream& out, const InspectReport& rep, const ReportSelection& s,
                          std::size_t index, ReportColours colours) {
  out << "<h2 id=selection-" << index + 1 << ">Selection " << html_escape(s.probe.name)
      << "</h2>\n<div class=meta>" << html_escape(s.probe.description) << "; "
      << count_of(s.selected, rep.units) << ".</div>\n<table>\n<tr><th>#</th><th>layer</th>"
      << "<th class=l>signal</th><th>neuron</th><th class=l>on when</th><th>score</th>"
      << "<th>on inside</th><th>off outside</th><th>r</th><th>AUROC</th></tr>\n";
  for (std::size_t k = 0; k < s.probe.top.size(); ++k) {
    const auto& u = s.probe.top[k];
    out << "<tr><td>" << k + 1 << "</td><td>" << u.layer << "</td><td class=l>"
        << html_escape(u.signal) << "</td><td>" << u.unit << "</td><td class=l>"
        << html_escape(on_when(u.on_off)) << "</td><td>" << fmt("%.3f", u.on_off.score())
        << "</td><td>" << fmt("%.3f", u.on_off.inside_on) << "</td><td>"
        << fmt("%.3f", u.on_off.outside_off) << "</td><td>" << fmt_r(u.r) << "</td><td>"
        << fmt_r(u.auroc) << "</td></tr>\n";
  }
  out << "</table>\n<p class=meta>" << html_escape(by_r_line(s))
      << " (layer, signal[neuron], r).</p>\n<p class=meta>Each neuron is cut into on and off at "
         "the threshold that makes "
         "the smaller of two fractions largest: the selection's units where it is on, and the "
         "other units where it is off. That smaller fraction is its score (1 = on exactly "
         "where the selection is), as LSTMVis ranks neurons; r and AUROC as in the probe "
         "table.</p>\n";
  std::int64_t in_excerpt = 0;
  for (float v : s.probe.excerpt) in_excerpt += v >= 0.5f;
  if (in_excerpt == 0)
    out << "<p class=note>None of the selection falls in the excerpt drawn here: choose one that "
           "holds it with --html-from.</p>\n";
  out << "<div class=views>\n";
  write_probe_view(out, rep, s.probe, "the selection");
  for (std::size_t k = 0; k < s.probe.top.size(); ++k)
    if (!s.probe.top[k].excerpt.empty())
      write_unit_view(out, rep, s.probe, k, colours,
                      "  on " + on_when(s.probe.top[k].on_off) + "  score " +
                          fmt("%.3f", s.probe.top[k].on_off.score()));
  out << "</div>\n<h3>Where the same neurons are on together</h3>\n<div class=meta>"
      << html_escape(together_summary(s)) << (s.matches.empty() ? "." : "; the longest:")
      << "</div>\n";
  if (s.matches.empty()) return;
  out << "<div class=views>\n";
  for (const auto& m : s.matches) write_html_match(out, m);
  out << "</div>\n";
}

}  // namespace

void write_terminal_selections(std::ostream& out, const InspectReport& rep) {
  for (const auto& s : rep.selections) write_terminal_selection(out, rep, s);
}

void write_html_selections(std::ostream& out, const InspectReport& rep, ReportColours colours) {
  if (rep.selections.empty()) return;
  write_legend(out);
  for (std::size_t i = 0; i < rep.selections.size(); ++i)
    write_html_selection(out, rep, rep.selections[i], i, colours);
}

}  // namespace charnn::detail
