// Inspection reports from a hand-made result: the terminal table holds the numbers, and the
// HTML page is self-contained, escapes the text and shows every unit of the excerpt.
#include <charnn/report.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace {

charnn::InspectReport sample_report() {
  charnn::InspectReport rep;
  rep.model = "runs/x/best.ckpt";
  rep.text = "a<b>.txt";
  rep.unit_kind = "grapheme";
  rep.layers = "lstm(4) > lstm(4)";
  rep.excerpt = {"\"", "<", "b", "&", "\n", "\t", "e\u0301", "'", " ", "\u0301"};
  rep.units = 1000;
  rep.text_units = 5000;
  rep.mean_loss = 1.5;
  rep.excerpt_begin = 0;
  const std::size_t n = rep.excerpt.size();
  rep.excerpt_loss.assign(n, 0.7f);
  rep.excerpt_loss[0] = std::nanf("");
  charnn::ReportProbe q{"in_quotes", "inside double quotes",      charnn::ProbeKind::binary,
                        0.4,         std::vector<float>(n, 1.0f), {}};
  q.excerpt[9] = 0.0f;
  charnn::ReportUnit u1{1, "c", 17, 0.934, 0.981, {}};
  for (std::size_t i = 0; i < n; ++i) u1.excerpt.push_back(static_cast<float>(i) - 4.0f);
  charnn::ReportUnit u2{0, "h", 3, -0.5, 0.2, {}};  // in the table only
  q.top = {u1, u2};
  charnn::ReportProbe c{"column", "units since the last newline", charnn::ProbeKind::continuous,
                        35.0,     std::vector<float>(n, 3.0f),    {}};
  c.top = {{0, "f", 2, 0.81, std::nan(""), std::vector<float>(n, 0.5f)}};
  rep.probes = {q, c};
  charnn::GateSaturation g{1, "f", {0.9f, 0.0f, 0.2f, 0.6f}, {0.0f, 0.7f, 0.1f, 0.3f}};
  rep.saturation = {g};
  return rep;
}

std::size_t count(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (auto p = s.find(what); p != std::string::npos; p = s.find(what, p + what.size())) ++n;
  return n;
}

}  // namespace

TEST_CASE("the terminal report lists each probe's units and the gate saturation",
          "[inspect][report]") {
  std::ostringstream out;
  charnn::write_terminal_report(out, sample_report());
  const std::string s = out.str();
  CHECK_THAT(s, Catch::Contains("in_quotes") && Catch::Contains("binary") &&
                    Catch::Contains("0.934") && Catch::Contains("0.981") &&
                    Catch::Contains("-0.500") && Catch::Contains("column") &&
                    Catch::Contains("continuous") && Catch::Contains("1000 of 5000"));
  // The continuous probe has no AUROC: a dash in its column.
  std::istringstream lines(s);
  std::string line;
  bool saw_column = false;
  while (std::getline(lines, line)) {
    if (line.rfind("column", 0) == 0) {
      saw_column = true;
      CHECK_THAT(line, Catch::EndsWith("-"));
      CHECK_THAT(line, Catch::Contains("0.810"));
    }
  }
  CHECK(saw_column);
  // Saturation: mean left (0.9+0+0.2+0.6)/4 = 0.425, right 0.275, 2 units left > 50%.
  CHECK_THAT(s, Catch::Contains("0.425") && Catch::Contains("0.275") && Catch::Contains("2/4") &&
                    Catch::Contains("1/4"));
}

TEST_CASE("the HTML report is self-contained, escaped and shows every excerpt unit",
          "[inspect][report]") {
  std::ostringstream out;
  const auto rep = sample_report();
  charnn::write_html_report(out, rep);
  const std::string s = out.str();
  CHECK_THAT(s, Catch::StartsWith("<!DOCTYPE html>"));
  CHECK_THAT(s, Catch::EndsWith("</html>\n"));
  CHECK_THAT(s, Catch::Contains("<meta charset=utf-8>"));
  // Nothing fetched from elsewhere: no URLs, scripts or external stylesheets.
  CHECK_FALSE(std::regex_search(s, std::regex("https?:|<script|<link|src=")));
  // The file name and every unit are escaped; raw markup from the text never appears.
  CHECK_THAT(s, Catch::Contains("a&lt;b&gt;.txt"));
  CHECK_THAT(s, Catch::Contains(">&lt;</span>") && Catch::Contains(">&amp;</span>") &&
                    Catch::Contains(">&quot;</span>") && Catch::Contains(">&#39;</span>"));
  CHECK(s.find("<b>.txt") == std::string::npos);
  // Newline shown as a return sign followed by a real line break; a tab as itself (columns
  // kept) with the class that draws its arrow.
  CHECK_THAT(s, Catch::Contains("\u21B5</span>\n"));
  CHECK_THAT(s, Catch::Contains(" t\" title=") || Catch::Contains("class=t title="));
  CHECK_THAT(s, Catch::Contains(">\t</span>"));
  CHECK(s.find(">\\t</span>") == std::string::npos);
  // Views: per probe its own values plus each unit with an excerpt (2 + 2), plus the loss view.
  const std::size_t views = 5;
  CHECK(count(s, "<div class=text>") == views);
  CHECK(count(s, "<span") >= views * rep.excerpt.size());
  // Index and value on hover; the strongest activation is red, the most negative blue.
  CHECK_THAT(s, Catch::Contains("title=\"unit 9: 5\"") && Catch::Contains("title=\"unit 0: -4\""));
  CHECK_THAT(s, Catch::Contains("class=p10") && Catch::Contains("class=n10"));
  // The table of units, the loss view and the saturation scatter (one dot per unit).
  CHECK_THAT(s, Catch::Contains("<td>17</td>") && Catch::Contains("<td>0.934</td>") &&
                    Catch::Contains("id=loss") && Catch::Contains("<svg"));
  CHECK(count(s, "<circle") == 4 + 1);  // four units and the legend dot
  // Balanced markup for the elements the page opens.
  for (const std::string tag : {"div", "span", "table", "tr", "svg", "h2", "h3"}) {
    INFO(tag);
    CHECK(count(s, "<" + tag + ">") + count(s, "<" + tag + " ") == count(s, "</" + tag + ">"));
  }
}

TEST_CASE("html_escape handles every markup character", "[inspect][report]") {
  CHECK(charnn::html_escape("<a href=\"x\">&'</a>") ==
        "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
  CHECK(charnn::html_escape("\u00E9\u4E2D") == "\u00E9\u4E2D");
}

namespace {

// The colour classes of the spans of the view whose label contains `label`, in order.
std::vector<std::string> view_colours(const std::string& html, const std::string& label) {
  const auto at = html.find(label);
  REQUIRE(at != std::string::npos);
  const auto begin = html.find("<div class=text>", at), end = html.find("</div>", begin);
  const std::string view = html.substr(begin, end - begin);
  std::vector<std::string> classes;
  const std::regex span("<span(?: class=\"?([a-z0-9]+)[^>]*)?[^>]*>");
  for (auto it = std::sregex_iterator(view.begin(), view.end(), span); it != std::sregex_iterator();
       ++it)
    classes.push_back((*it)[1].str());
  return classes;
}

}  // namespace

TEST_CASE("a neuron whose values vary is drawn in varying colours, even far from 0",
          "[inspect][report]") {
  auto rep = sample_report();
  // An LSTM cell state that sits near 3 and moves by 0.2: through tanh it is one red.
  charnn::ReportUnit c{1, "c", 40, 0.7, 0.9, {}};
  for (std::size_t i = 0; i < rep.excerpt.size(); ++i)
    c.excerpt.push_back(3.0f + 0.02f * static_cast<float>(i));
  rep.probes[0].top.insert(rep.probes[0].top.begin(), c);
  const auto distinct = [](std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return static_cast<std::size_t>(std::unique(v.begin(), v.end()) - v.begin());
  };
  std::ostringstream scaled, raw;
  charnn::write_html_report(scaled, rep);
  charnn::write_html_report(raw, rep, charnn::ReportColours::raw);
  const auto s = view_colours(scaled.str(), "c[40]");
  REQUIRE(s.size() == rep.excerpt.size());
  CHECK(distinct(s) >= rep.excerpt.size() - 1);  // ten values, ten (or nine) colours
  CHECK(s.front() == "n10");
  CHECK(s.back() == "p10");
  CHECK_THAT(scaled.str(), Catch::Contains("3 blue") && Catch::Contains("3.18 red"));
  // The raw view is the saturated one the scaling replaces.
  CHECK(distinct(view_colours(raw.str(), "c[40]")) == 1);
  // A constant neuron is drawn white, and its label says so.
  CHECK_THAT(scaled.str(), Catch::Contains("colour: constant 0.5, white"));
}
