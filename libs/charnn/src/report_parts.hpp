// The pieces of the inspection reports shared by report.cpp (probes, loss, saturation) and
// selection_report.cpp (the hypothesis search): number formats, table padding and the coloured
// text views.
#pragma once

#include <charnn/report.hpp>

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

namespace charnn::detail {

std::string fmt(const char* format, double v);  // one number through snprintf
std::string fmt_r(double v);                    // "%.3f", or "-" for NaN
std::string pad(std::string s, std::size_t width, bool right = false);

// Units of text with each one's background from mapped[i] in [-1, 1] and, on hover, its index
// in the text (first_unit + i) and raw[i].
void write_coloured_text(std::ostream& out, const std::vector<std::string>& units,
                         std::int64_t first_unit, const std::vector<float>& raw,
                         const std::vector<double>& mapped);
// A probe's own values over the excerpt, scaled from its minimum (blue) to its maximum (red);
// `what` names it in the label.
void write_probe_view(std::ostream& out, const InspectReport& rep, const ReportProbe& p,
                      const char* what = "the probe");
// The k-th (from 0) neuron of p.top over the excerpt; label_extra follows its r and AUROC.
void write_unit_view(std::ostream& out, const InspectReport& rep, const ReportProbe& p,
                     std::size_t k, ReportColours colours, const std::string& label_extra = {});
void write_legend(std::ostream& out);

// The hypothesis search's part of each report (selection_report.cpp); nothing when the
// report has no selection.
void write_terminal_selections(std::ostream& out, const InspectReport& rep);
void write_html_selections(std::ostream& out, const InspectReport& rep, ReportColours colours);

}  // namespace charnn::detail
