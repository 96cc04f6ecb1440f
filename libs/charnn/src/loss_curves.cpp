// See loss_curves.hpp. Two panels side by side, each a loss axis on the left and the learning
// rate's own scale on the right; the first minutes' loss (far above the rest) is clipped so that
// the part a reader compares is not squeezed flat.
#include "charnn/loss_curves.hpp"

#include "train_banner.hpp"  // thousands

#include <charnn/atomic_file.hpp>
#include <charnn/html_escape.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <sstream>

namespace charnn {
namespace {

constexpr int kPanelW = 560, kPanelH = 280, kLeft = 56, kRight = 48, kTop = 30, kBottom = 40;

std::string num(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

// About n round tick values covering [lo, hi].
std::vector<double> ticks(double lo, double hi, int n) {
  std::vector<double> t;
  if (!(hi > lo)) return {lo};
  const double raw = (hi - lo) / n, mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (const double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  for (double v = std::ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) t.push_back(v);
  return t;
}

struct Axis {
  double lo, hi;
  int from, to;  // pixels
  // Values outside [lo, hi] on the edge; unclamped, they are left to a clip path.
  double operator()(double v) const { return unclamped(std::clamp(v, lo, hi)); }
  double unclamped(double v) const {
    return hi > lo ? from + (to - from) * (v - lo) / (hi - lo) : from;
  }
};

struct Series {
  std::vector<double> x, train_y, valid_x, valid_y, lr_x, lr_y;
  double whole_x = NAN, whole_y = NAN, best_x = NAN, best_y = NAN;
  std::int64_t whole_units = 0;  // the end's: the whole split, or a sample of it
};

// One panel's points, x from each row by x_of: training loss and rate on the rows that trained,
// the periodic validations (the best marked), and the end's (the whole split, or a sample of it
// where that would take too long) apart.
Series series_of(const std::vector<MetricsRow>& rows, double (*x_of)(const MetricsRow&)) {
  Series s;
  for (const MetricsRow& r : rows) {
    const double x = x_of(r);
    if (std::isfinite(r.train_loss)) {
      s.x.push_back(x);
      s.train_y.push_back(r.train_loss);
      if (std::isfinite(r.lr)) {
        s.lr_x.push_back(x);
        s.lr_y.push_back(r.lr);
      }
    }
    if (!std::isfinite(r.valid_loss)) continue;
    if (r.end_of_run) {
      s.whole_x = x, s.whole_y = r.valid_loss, s.whole_units = r.valid_units;
      continue;
    }
    s.valid_x.push_back(x);
    s.valid_y.push_back(r.valid_loss);
    if (!(r.valid_loss >= s.best_y)) s.best_x = x, s.best_y = r.valid_loss;  // best_y starts NaN
  }
  return s;
}

void polyline(std::ostream& out, const std::vector<double>& xs, const std::vector<double>& ys,
              const Axis& ax, const Axis& ay, const char* style, bool clamp = true) {
  out << "<polyline fill=\"none\" " << style << " points=\"";
  for (std::size_t i = 0; i < xs.size(); ++i)
    if (std::isfinite(ys[i]))
      out << num("%.1f", ax(xs[i])) << ',' << num("%.1f", clamp ? ay(ys[i]) : ay.unclamped(ys[i]))
          << ' ';
  out << "\"/>";
}

// A panel's plot area: its background, the loss grid and scale, the x scale and its label.
void frame(std::ostream& out, const Axis& ax, const Axis& ay, const std::string& xlabel,
           const char* xformat) {
  out << "<rect x=\"" << ax.from << "\" y=\"" << kTop << "\" width=\"" << ax.to - ax.from
      << "\" height=\"" << ay.from - kTop << "\" fill=\"#fafafa\" stroke=\"#bbb\"/>";
  for (const double t : ticks(ay.lo, ay.hi, 5))
    out << "<line x1=\"" << ax.from << "\" x2=\"" << ax.to << "\" y1=\"" << num("%.1f", ay(t))
        << "\" y2=\"" << num("%.1f", ay(t)) << "\" stroke=\"#e6e6e6\"/><text x=\"" << ax.from - 4
        << "\" y=\"" << num("%.1f", ay(t) + 4) << "\" text-anchor=\"end\">" << num("%.2f", t)
        << "</text>";
  for (const double t : ticks(0, ax.hi, 6))
    out << "<text x=\"" << num("%.1f", ax(t)) << "\" y=\"" << ay.from + 15
        << "\" text-anchor=\"middle\">" << num(xformat, t) << "</text>";
  out << "<text x=\"" << (ax.from + ax.to) / 2 << "\" y=\"" << ay.from + 32
      << "\" text-anchor=\"middle\">" << xlabel << "</text>";
}

void panel(std::ostream& out, int x0, const Series& s, double ylo, double yhi, double lr_hi,
           const std::string& xlabel, const char* xformat) {
  double xhi = 0;
  for (const double v : s.x) xhi = std::max(xhi, v);
  if (std::isfinite(s.whole_x)) xhi = std::max(xhi, s.whole_x);
  const Axis ax{0, xhi, x0 + kLeft, x0 + kPanelW - kRight};
  const Axis ay{ylo, yhi, kTop + kPanelH - kTop - kBottom, kTop};
  const Axis alr{0, lr_hi, ay.from, ay.to};
  frame(out, ax, ay, xlabel, xformat);
  if (lr_hi > 0)
    for (const double t : ticks(0, lr_hi, 3))
      out << "<text x=\"" << ax.to + 4 << "\" y=\"" << num("%.1f", alr(t) + 4)
          << "\" fill=\"#999\">" << num("%.2g", t) << "</text>";
  polyline(out, s.lr_x, s.lr_y, ax, alr, "stroke=\"#bbb\" stroke-dasharray=\"4 3\"");
  polyline(out, s.x, s.train_y, ax, ay, "stroke=\"#4a7ab5\" stroke-width=\"1.3\"");
  polyline(out, s.valid_x, s.valid_y, ax, ay, "stroke=\"#c0392b\" stroke-width=\"1.6\"");
  for (std::size_t i = 0; i < s.valid_x.size(); ++i)
    out << "<circle cx=\"" << num("%.1f", ax(s.valid_x[i])) << "\" cy=\""
        << num("%.1f", ay(s.valid_y[i])) << "\" r=\"2.5\" fill=\"#c0392b\"/>";
  if (std::isfinite(s.best_y))
    out << "<circle cx=\"" << num("%.1f", ax(s.best_x)) << "\" cy=\"" << num("%.1f", ay(s.best_y))
        << "\" r=\"6\" fill=\"none\" stroke=\"#000\" stroke-width=\"1.5\"/>";
  if (std::isfinite(s.whole_y))
    out << "<rect x=\"" << num("%.1f", ax(s.whole_x) - 4) << "\" y=\""
        << num("%.1f", ay(s.whole_y) - 4) << "\" width=\"8\" height=\"8\" fill=\"#2e8b57\"/>";
}

// Distinct for the first ten runs; then the colours repeat with a dashed line.
const char* const kRunColours[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e",
                                   "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};
constexpr std::size_t kColours = sizeof kRunColours / sizeof kRunColours[0];

std::string run_style(std::size_t i, const char* width) {
  std::string s =
      "stroke=\"" + std::string(kRunColours[i % kColours]) + "\" stroke-width=\"" + width + "\"";
  if (i >= kColours) s += " stroke-dasharray=\"6 3\"";
  return s;
}

// One panel of the comparison: every run's series (x chosen by the caller) on shared axes.
void compare_panel(std::ostream& out, int x0, const std::vector<Series>& runs, double ylo,
                   double yhi, const std::string& xlabel) {
  double xhi = 0;
  for (const Series& s : runs)
    for (const double v : s.x) xhi = std::max(xhi, v);
  const Axis ax{0, xhi, x0 + kLeft, x0 + kPanelW - kRight};
  const Axis ay{ylo, yhi, kTop + kPanelH - kTop - kBottom, kTop};
  frame(out, ax, ay, xlabel, "%g");
  // Lines leave the plot where they go off the scale (the first minutes, training loss below
  // every validation) instead of running along its edge.
  const std::string clip = "runs-plot-" + std::to_string(x0);
  out << "<clipPath id=\"" << clip << "\"><rect x=\"" << ax.from << "\" y=\"" << kTop
      << "\" width=\"" << ax.to - ax.from << "\" height=\"" << ay.from - kTop
      << "\"/></clipPath><g clip-path=\"url(#" << clip << ")\">";
  for (std::size_t i = 0; i < runs.size(); ++i) {
    polyline(out, runs[i].x, runs[i].train_y, ax, ay,
             (run_style(i, "1") + " stroke-opacity=\"0.25\"").c_str(), false);
    polyline(out, runs[i].valid_x, runs[i].valid_y, ax, ay, run_style(i, "1.8").c_str(), false);
  }
  out << "</g>";
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const Series& s = runs[i];
    if (std::isfinite(s.best_y))
      out << "<circle cx=\"" << num("%.1f", ax(s.best_x)) << "\" cy=\"" << num("%.1f", ay(s.best_y))
          << "\" r=\"5\" fill=\"none\" " << run_style(i, "1.5") << "/>";
  }
}

}  // namespace

std::string loss_curves_svg(const std::vector<MetricsRow>& rows, bool standalone) {
  const int width = 2 * kPanelW, height = kPanelH;
  std::ostringstream out;
  out << "<svg" << (standalone ? " xmlns=\"http://www.w3.org/2000/svg\"" : "") << " width=\""
      << width << "\" height=\"" << height << "\" viewBox=\"0 0 " << width << ' ' << height
      << "\" font-family=\"sans-serif\" font-size=\"11\" role=\"img\" aria-label=\"loss curves\">";
  const Series by_time = series_of(rows, [](const MetricsRow& r) { return r.seconds / 60.0; });
  const Series by_units =
      series_of(rows, [](const MetricsRow& r) { return static_cast<double>(r.units) / 1e6; });
  const double best = by_time.best_y;
  double lr_hi = 0;
  for (const double lr : by_time.lr_y) lr_hi = std::max(lr_hi, lr);
  std::vector<double> ys;  // every loss drawn, in row order, for the scale
  for (const MetricsRow& r : rows)
    for (const double v : {r.train_loss, r.valid_loss})
      if (std::isfinite(v)) ys.push_back(v);
  if (ys.empty()) {
    out << "<text x=\"20\" y=\"40\">no training rows yet</text></svg>";
    return out.str();
  }
  // The scale: the lowest loss to the highest after the first tenth of the rows (the start of a
  // run is far above everything after it and would flatten the rest).
  const double ylo = *std::min_element(ys.begin(), ys.end());
  double yhi = ylo;
  for (std::size_t i = ys.size() / 10; i < ys.size(); ++i) yhi = std::max(yhi, ys[i]);
  const double pad = std::max(0.02, (yhi - ylo) * 0.05);
  out << "<text x=\"" << kLeft << "\" y=\"16\"><tspan fill=\"#4a7ab5\">\u2014 training loss</tspan>"
      << "  <tspan fill=\"#c0392b\">\u25CF validation (nats per unit)</tspan>  ";
  if (std::isfinite(best)) out << "\u25CB best " << num("%.4f", best) << "  ";
  if (std::isfinite(by_time.whole_y))
    out << "<tspan fill=\"#2e8b57\">\u25A0 end of run " << num("%.4f", by_time.whole_y) << " ("
        << detail::thousands(by_time.whole_units) << " validation units)</tspan>  ";
  out << "<tspan fill=\"#999\">- - learning rate (right scale)</tspan></text>";
  panel(out, 0, by_time, ylo - pad, yhi + pad, lr_hi, "minutes", "%g");
  panel(out, kPanelW, by_units, ylo - pad, yhi + pad, lr_hi, "units seen (millions)", "%g");
  out << "</svg>";
  return out.str();
}

std::string compare_curves_svg(const std::vector<RunCurves>& runs, bool standalone) {
  std::vector<Series> by_time, by_units;
  std::vector<double> ys;  // each run's validations after its first tenth, for the scale
  double ylo = INFINITY;
  for (const RunCurves& run : runs) {
    by_time.push_back(series_of(run.rows, [](const MetricsRow& r) { return r.seconds / 60.0; }));
    by_units.push_back(
        series_of(run.rows, [](const MetricsRow& r) { return static_cast<double>(r.units) / 1e6; }));
    const auto& v = by_time.back().valid_y;
    for (std::size_t i = v.size() / 10; i < v.size(); ++i) ys.push_back(v[i]);
    for (const double y : v) ylo = std::min(ylo, y);
  }
  const int rows_h = 18;
  const int width = 2 * kPanelW, height = kPanelH + 10 + rows_h * static_cast<int>(runs.size());
  std::ostringstream out;
  out << "<svg" << (standalone ? " xmlns=\"http://www.w3.org/2000/svg\"" : "") << " width=\""
      << width << "\" height=\"" << height << "\" viewBox=\"0 0 " << width << ' ' << height
      << "\" font-family=\"sans-serif\" font-size=\"11\" role=\"img\" aria-label=\"loss curves "
         "of several runs\">";
  if (ys.empty()) {
    out << "<text x=\"20\" y=\"40\">no run has validated yet</text></svg>";
    return out.str();
  }
  const double yhi = *std::max_element(ys.begin(), ys.end());
  const double pad = std::max(0.02, (yhi - ylo) * 0.05);
  out << "<text x=\"" << kLeft
      << "\" y=\"16\">validation loss (nats per unit; the best of each "
         "run ringed) and, faint, training loss</text>";
  compare_panel(out, 0, by_time, ylo - pad, yhi + pad, "minutes");
  compare_panel(out, kPanelW, by_units, ylo - pad, yhi + pad, "units seen (millions)");
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const int y = kPanelH + 6 + rows_h * static_cast<int>(i);
    const Series& s = by_time[i];
    double minutes = 0;
    for (const double x : s.x) minutes = std::max(minutes, x);
    out << "<line x1=\"" << kLeft << "\" x2=\"" << kLeft + 28 << "\" y1=\"" << y - 4 << "\" y2=\""
        << y - 4 << "\" " << run_style(i, "2.5") << "/><text x=\"" << kLeft + 36 << "\" y=\"" << y
        << "\">" << html_escape(runs[i].name) << ": best "
        << (std::isfinite(s.best_y) ? num("%.4f", s.best_y) : std::string("-")) << " at "
        << num("%.1f", s.best_x) << " min of " << num("%.1f", minutes) << "</text>";
  }
  out << "</svg>";
  return out.str();
}

void write_loss_curves(const std::filesystem::path& run_dir, const std::vector<MetricsRow>& rows) {
  AtomicFile file(run_dir / "curves.svg");
  file.stream() << loss_curves_svg(rows);
  file.commit();
}

}  // namespace charnn
