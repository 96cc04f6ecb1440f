// The hypothesis search (inspect --select, --select-span) end to end on a model with a planted
// neuron: an Elman layer whose neuron 0 is on exactly inside parentheses must be found first,
// ahead of a decoy that brackets also switch on, and the search must find the other
// parenthesised stretches of the text as matches.
#include <charnn/inspect.hpp>
#include <charnn/model.hpp>
#include <charnn/probes.hpp>
#include <charnn/report.hpp>
#include <charnn/text.hpp>
#include <charnn/vocab.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "inspect_support.hpp"

using namespace charnn::inspect_test;

namespace {

// Random words in lines of about 60 characters; about 1 word in 30 opens a parenthesis and 1
// in 50 a square bracket, each closed 2 to 5 words later.
std::string bracketed_text(std::size_t units, std::uint32_t seed) {
  std::mt19937 rng(seed);
  auto pick = [&](std::uint32_t n) { return static_cast<std::uint32_t>(rng() % n); };
  std::string text, line;
  char close = 0;
  int left = 0;
  while (text.size() < units) {
    std::string word;
    if (!close && pick(30) == 0) {
      close = ')';
      word.push_back('(');  // not word = "(": GCC 12 warns (-Wrestrict)
    } else if (!close && pick(50) == 0) {
      close = ']';
      word.push_back('[');
    }
    if (word.size()) left = 2 + static_cast<int>(pick(4));
    for (std::uint32_t i = 0, len = 2 + pick(5); i < len; ++i) word += "abcdefgh"[pick(8)];
    if (close && --left <= 0) {
      word += close;
      close = 0;
    }
    if (line.size() + word.size() + 1 > 60) {
      text += line + "\n";
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
  }
  if (close) line += close;  // every group closed
  return text + line + "\n";
}

struct Planted {
  charnn::Vocab vocab;
  std::unique_ptr<charnn::Model> model;
};

// Neuron 0: '(' drives it to +1, ')' to -1, and a self-weight of 4 holds it there (tanh(4 h)
// has its fixed points near +-1). Neuron 1, the decoy, is the same with '[' and ']' added.
// They read nothing else and feed no other neuron, which keep their random start.
Planted planted_model(const std::string& text) {
  charnn::TextOptions topt;
  charnn::UnitCounter counter(topt.units);
  counter.add_text(charnn::clean_text(text, topt));
  Planted p;
  p.vocab = charnn::Vocab::build(counter, topt);
  charnn::ModelConfig mc;
  mc.cells = {"elman"};
  mc.hidden = 8;
  mc.vocab_size = p.vocab.size();
  p.model = std::make_unique<charnn::Model>(mc, registry());
  p.model->init_params(5);
  const std::int64_t H = mc.hidden, V = mc.vocab_size;
  const auto wx = p.model->view("layer0.elman.w_x");  // (V, H)
  const auto wh = p.model->view("layer0.elman.w_h");  // (H, H): h' = tanh(x W_x + h W_h + b)
  const auto b = p.model->view("layer0.elman.b");
  auto params = p.model->params();
  auto at = [&](std::int64_t i) -> float& { return params[static_cast<std::size_t>(i)]; };
  auto id = [&](const char* unit) { return static_cast<std::int64_t>(*p.vocab.find(unit)); };
  for (std::int64_t n : {0, 1}) {
    for (std::int64_t v = 0; v < V; ++v) at(wx.offset + v * H + n) = 0.0f;
    for (std::int64_t h = 0; h < H; ++h) {
      at(wh.offset + h * H + n) = 0.0f;  // reads no other neuron
      at(wh.offset + n * H + h) = 0.0f;  // and no other neuron reads it
    }
    at(wh.offset + n * H + n) = 4.0f;
    at(b.offset + n) = 0.0f;
    at(wx.offset + id("(") * H + n) = 8.0f;
    at(wx.offset + id(")") * H + n) = -8.0f;
  }
  at(wx.offset + id("[") * H + 1) = 8.0f;
  at(wx.offset + id("]") * H + 1) = -8.0f;
  return p;
}

charnn::TracedText traced(const Planted& p, const std::string& raw) {
  return charnn::prepare_text(charnn::clean_text(raw, p.vocab.text_options()), p.vocab,
                              charnn::UnknownUnits::error, "bracketed");
}

}  // namespace

TEST_CASE("the search finds the planted parenthesis neuron first, from a pattern or a span",
          "[inspect][search]") {
  const std::string raw = bracketed_text(30000, 3);
  Planted p = planted_model(raw);
  const auto text = traced(p, raw);
  charnn::InspectOptions options;
  options.top = 4;
  options.html_top = 2;
  options.excerpt_units = 400;

  // The span of the first parenthesis, from '(' up to (not including) ')': after reading ')'
  // the neuron is off again.
  std::int64_t open = 0;
  while (text.unit(open) != "(") ++open;
  std::int64_t close = open;
  while (text.unit(close) != ")") ++close;
  std::int64_t groups = 0;
  for (std::int64_t u = 0; u < text.units(); ++u) groups += text.unit(u) == "(";
  REQUIRE(groups >= 20);

  const std::vector<charnn::Probe> selections = {
      charnn::select_regex("\\([^)]*\\)", text.text, text.boundaries),
      charnn::select_span(std::to_string(open) + ":" + std::to_string(close), text.units())};
  const auto rep = charnn::inspect_model(*p.model, text, {}, options, selections);
  REQUIRE(rep.selections.size() == 2);
  std::ostringstream table;
  charnn::write_terminal_report(table, rep);
  INFO(table.str());

  for (const auto& s : rep.selections) {
    INFO(s.probe.name);
    REQUIRE(s.probe.top.size() == 4);
    CHECK(s.probe.top[0].layer == 0);
    CHECK(s.probe.top[0].signal == "h");
    CHECK(s.probe.top[0].unit == 0);
    CHECK(s.probe.top[0].on_off.above);
    CHECK(s.probe.top[1].unit == 1);  // the decoy, also on inside brackets
    CHECK(s.probe.top[1].on_off.score() < s.probe.top[0].on_off.score());
    CHECK(s.together >= 1);
    REQUIRE(s.by_r.size() == 4);  // the correlation ranking, for comparison
    CHECK(std::fabs(s.by_r[0].r) >= std::fabs(s.by_r[3].r));
    CHECK(s.probe.top[0].excerpt.size() == 400);
  }
  // The pattern covers every parenthesis: nothing outside it to match. Its closing ')' is
  // selected but the neuron is off after reading it.
  const auto& by_pattern = rep.selections[0];
  CHECK(by_pattern.probe.top[0].on_off.score() > 0.8);
  CHECK(by_pattern.together_outside < 0.01);
  CHECK(by_pattern.stretches == 0);
  // The span is one parenthesis: every other one is a stretch where the neurons are on
  // together, from its '(' up to its ')'.
  const auto& by_span = rep.selections[1];
  CHECK(by_span.probe.top[0].on_off.inside_on == 1.0);
  CHECK(by_span.together_inside == 1.0);
  CHECK(by_span.stretches == groups - 1);
  REQUIRE(by_span.matches.size() == options.matches);
  for (std::size_t k = 0; k < by_span.matches.size(); ++k) {
    const auto& m = by_span.matches[k];
    CHECK(text.unit(m.begin) == "(");
    CHECK(text.unit(m.end) == ")");
    if (k) CHECK(m.end - m.begin <= by_span.matches[k - 1].end - by_span.matches[k - 1].begin);
    REQUIRE(m.units.size() >= static_cast<std::size_t>(m.end - m.begin));
    CHECK(m.units[static_cast<std::size_t>(m.begin - m.context_begin)] == "(");
  }
  CHECK_THAT(table.str(), Catch::Contains("selection /\\([^)]*\\)/") && Catch::Contains("[[(") &&
                              Catch::Contains("on together") && Catch::Contains("by |r|: 0 h["));

  // The page draws each selection with its neurons and its matches.
  std::ostringstream html;
  charnn::write_html_report(html, rep);
  CHECK_THAT(html.str(), Catch::Contains("id=selection-1") && Catch::Contains("id=selection-2") &&
                             Catch::Contains("the selection itself") &&
                             Catch::Contains("Where the same neurons are on together"));
}

TEST_CASE("a selection that marks nothing, or everything, is refused before the model runs",
          "[inspect][search]") {
  const std::string raw = bracketed_text(3000, 4);
  Planted p = planted_model(raw);
  const auto text = traced(p, raw);
  for (const char* pattern : {"zzz", "(?s).+"}) {
    INFO(pattern);
    const std::vector<charnn::Probe> selections = {
        charnn::select_regex(pattern, text.text, text.boundaries)};
    try {
      charnn::inspect_model(*p.model, text, {}, charnn::InspectOptions{}, selections);
      FAIL("accepted");
    } catch (const charnn::error& e) {
      CHECK_THAT(e.what(), Catch::Contains(pattern) && Catch::Contains("unit of the"));
      CHECK(e.exit_code() == 2);
    }
  }
}
