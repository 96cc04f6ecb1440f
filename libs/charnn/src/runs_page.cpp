// See runs_page.hpp.
#include "charnn/runs_page.hpp"

#include <charnn/report.hpp>
#include <charnn/train_config.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <ostream>

namespace charnn {
namespace {

std::string fixed(double v, const char* format) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

}  // namespace

void write_runs_page(std::ostream& out, const std::string& title,
                     const std::vector<RunSummary>& runs, const std::vector<RunCurves>& curves) {
  out << "<!DOCTYPE html>\n<html lang=en>\n<head>\n<meta charset=utf-8>\n"
      << "<meta name=viewport content=\"width=device-width, initial-scale=1\">\n"
      << "<title>charnn runs: " << html_escape(title) << "</title>\n<style>"
      << "body{font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;"
         "margin:24px auto;max-width:1200px;padding:0 16px;color:#1a1a1a}"
         "h1{font-size:24px}table{border-collapse:collapse;font-size:13px;margin:6px 0}"
         "th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f2f2f2}"
         "td.l,th.l{text-align:left}.meta{color:#555;font-size:14px}"
         ".curves{overflow-x:auto}.curves svg{max-width:100%;height:auto}"
      << "</style>\n</head>\n<body>\n<h1>charnn runs: " << html_escape(title) << "</h1>\n";
  out << "<table>\n<tr><th class=l>run</th><th class=l>model</th><th>iterations</th>"
         "<th>epochs</th><th>best valid</th><th>at iteration</th><th>time</th>"
         "<th class=l>corpus</th><th class=l>status</th></tr>\n";
  for (const auto& r : runs)
    out << "<tr><td class=l>" << (r.latest ? "* " : "") << html_escape(r.name)
        << "</td><td class=l>" << html_escape(r.model.empty() ? "-" : r.model) << "</td><td>"
        << r.iterations << "</td><td>" << fixed(r.epochs, "%.2f") << "</td><td>"
        << (std::isnan(r.best_valid) ? std::string("-") : fixed(r.best_valid, "%.4f"))
        << "</td><td>" << r.best_iteration << "</td><td>" << format_duration(r.seconds)
        << "</td><td class=l>" << html_escape(std::filesystem::path(r.corpus).filename().string())
        << "</td><td class=l>" << html_escape(r.writer_pid > 0 ? "training" : r.problem)
        << "</td></tr>\n";
  out << "</table>\n<p class=meta>* marks the run runs/latest points at. Best valid: the lowest "
         "periodic validation loss, nats per unit of text (what picks best.ckpt).</p>\n";
  out << "<h2>Loss curves</h2>\n<div class=curves>" << compare_curves_svg(curves, false)
      << "</div>\n<p class=meta>Written by charnn runs --html.</p>\n</body>\n</html>\n";
}

}  // namespace charnn
