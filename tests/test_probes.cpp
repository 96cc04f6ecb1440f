// Probes on hand-made strings, and the streaming ranking (Pearson r, AUROC, gate saturation)
// against direct computations over the same numbers.
#include <charnn/error.hpp>
#include <charnn/probes.hpp>
#include <charnn/ranking.hpp>
#include <charnn/text.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <string>
#include <vector>

namespace {

using charnn::UnitKind;

// Probe values as a compact string, one character per unit: digits for 0..9, '+' above.
std::string show(const std::vector<float>& v) {
  std::string s;
  for (float x : v) s += x > 9 ? '+' : static_cast<char>('0' + static_cast<int>(x));
  return s;
}

template <typename Fn>
std::string run(Fn fn, const std::string& text, UnitKind kind = UnitKind::codepoint) {
  const auto b = charnn::unit_boundaries(text, kind);
  return show(fn(text, b));
}

double direct_pearson(const std::vector<double>& x, const std::vector<double>& y) {
  const double n = static_cast<double>(x.size());
  double mx = 0, my = 0;
  for (std::size_t i = 0; i < x.size(); ++i) mx += x[i] / n, my += y[i] / n;
  double sxy = 0, sxx = 0, syy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  return sxy / std::sqrt(sxx * syy);
}

// Exact AUROC by comparing every positive with every negative (ties count 1/2).
double direct_auroc(const std::vector<double>& x, const std::vector<float>& label) {
  double wins = 0, pos = 0, neg = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (label[i] < 0.5f) continue;
    pos += 1;
    for (std::size_t j = 0; j < x.size(); ++j) {
      if (label[j] >= 0.5f) continue;
      wins += x[i] > x[j] ? 1.0 : x[i] == x[j] ? 0.5 : 0.0;
    }
  }
  for (float l : label) neg += l < 0.5f;
  return wins / (pos * neg);
}

}  // namespace

TEST_CASE("in_quotes follows straight and curly quotes and resets at a blank line",
          "[inspect][probes]") {
  // The opening quote is inside, the closing one outside (the quote is over after reading it).
  CHECK(run(charnn::probe_in_quotes, "a \"bc\" d") == "00111000");
  CHECK(run(charnn::probe_in_quotes, "x\u201Cab\u201Dy") == "011100");
  // A curly closing quote never opens; a stray one outside stays outside.
  CHECK(run(charnn::probe_in_quotes, "\u201Da\u201Cb") == "0011");
  // An unmatched quote is closed by a blank line (a speech running over paragraphs).
  CHECK(run(charnn::probe_in_quotes, "\"a\nb\n\nc\"d") ==
        "11111001"
        "1");
  // A blank line holding only spaces counts too.
  CHECK(run(charnn::probe_in_quotes, "\"a\n \nc") ==
        "11110"
        "0");
}

TEST_CASE("column and line_left count units within the line", "[inspect][probes]") {
  CHECK(run(charnn::probe_column, "ab\ncde\n\nf") == "120123001");
  CHECK(run(charnn::probe_line_left, "ab\ncde\n\nf") == "103210010");
  // Graphemes are single units: "e" + combining acute is one column.
  const std::string text = "e\u0301x\ny";
  CHECK(run(charnn::probe_column, text, UnitKind::grapheme) == "1201");
  CHECK(run(charnn::probe_column, text, UnitKind::codepoint) == "12301");
  // Long lines go past 9.
  CHECK(run(charnn::probe_column, std::string(12, 'a')) == "123456789+++");
}

// (No square brackets in test names: CMake lists would swallow the tests after this one.)
TEST_CASE("bracket_depth nests round, square and curly brackets and ignores unmatched closers",
          "[inspect][probes]") {
  CHECK(run(charnn::probe_bracket_depth, "(a[b]{c})d)e") == "112212210000");
  CHECK(run(charnn::probe_bracket_depth, "(a\n\nb") == "11100");
}

TEST_CASE("word_start marks the first letter or digit of each word", "[inspect][probes]") {
  CHECK(run(charnn::probe_word_start, "don't be well-known, 42x") == "100000100100000000000100");
  CHECK(run(charnn::probe_word_start, "\u00C9t\u00E9 ok") == "100010");
}

TEST_CASE("after_sentence marks the gap between a sentence end and the next sentence",
          "[inspect][probes]") {
  CHECK(run(charnn::probe_after_sentence, "Hi. Yo") == "000100");
  CHECK(run(charnn::probe_after_sentence, "no!\n\"Yes") == "00011000");
  // Closing quote after the terminator, then whitespace.
  CHECK(run(charnn::probe_after_sentence, "it.\" So") == "0000100");
  // Not a sentence end: a decimal point, an abbreviation glued to a word, a terminator at the end.
  CHECK(run(charnn::probe_after_sentence, "3.14 e.g.x ok.") == "00000000000000");
  CHECK(run(charnn::probe_after_sentence, "Wait... What?  Yes") == "000000010000011000");
}

TEST_CASE("builtin_probes lists every built-in probe with its kind", "[inspect][probes]") {
  const std::string text = "\"Hi (there).\"\nNo.";
  const auto b = charnn::unit_boundaries(text, UnitKind::grapheme);
  const auto probes = charnn::builtin_probes(text, b);
  std::vector<std::string> names;
  for (const auto& p : probes) {
    names.push_back(p.name);
    CHECK(p.values.size() == b.size() - 1);
    CHECK_FALSE(p.description.empty());
  }
  CHECK(names == std::vector<std::string>{"in_quotes", "column", "line_left", "bracket_depth",
                                          "word_start", "after_sentence"});
  CHECK(probes[0].kind == charnn::ProbeKind::binary);
  CHECK(probes[1].kind == charnn::ProbeKind::continuous);
}

TEST_CASE("regex probes mark every unit that overlaps a match", "[inspect][probes]") {
  const std::string text = "ab12c345\nd6";
  const auto b = charnn::unit_boundaries(text, UnitKind::codepoint);
  auto p = charnn::regex_probe(charnn::parse_probe_spec("digits=[0-9]+"), text, b);
  CHECK(p.name == "digits");
  CHECK(p.kind == charnn::ProbeKind::binary);
  CHECK(show(p.values) == "00110111001");
  // A match across a newline, and an empty match that marks nothing.
  p = charnn::regex_probe({"span", "5\\nd"}, text, b);
  CHECK(show(p.values) == "00000001110");
  p = charnn::regex_probe({"empty", "x*"}, text, b);
  CHECK(show(p.values) == "00000000000");
  // Byte offsets map to whole units: a match on a combining mark marks its grapheme.
  const std::string accented = "ae\u0301b\u00E9";
  const auto g = charnn::unit_boundaries(accented, UnitKind::grapheme);
  p = charnn::regex_probe({"acute", "\u0301|\u00E9"}, accented, g);
  CHECK(show(p.values) == "0101");
}

TEST_CASE("probe specs and patterns are checked with clear errors", "[inspect][probes]") {
  CHECK(charnn::parse_probe_spec("a_b=x=y").pattern == "x=y");
  CHECK_THROWS_AS(charnn::parse_probe_spec("nopattern"), charnn::error);
  CHECK_THROWS_AS(charnn::parse_probe_spec("=x"), charnn::error);
  CHECK_THROWS_AS(charnn::parse_probe_spec("a b=x"), charnn::error);
  CHECK_THROWS_AS(charnn::parse_probe_spec("a="), charnn::error);
  const std::string text = "abc";
  const auto b = charnn::unit_boundaries(text, UnitKind::codepoint);
  try {
    charnn::regex_probe({"bad", "a(b"}, text, b);
    FAIL("a bad pattern compiled");
  } catch (const charnn::error& e) {
    CHECK_THAT(e.what(), Catch::Contains("bad") && Catch::Contains("a(b"));
  }
}

TEST_CASE("streaming Pearson and AUROC match direct computations", "[inspect][ranking]") {
  // Three signals of two layers: a tanh-range h, an unbounded c and a sigmoid gate f.
  const std::int64_t n = 3000;
  std::mt19937 rng(7);
  std::normal_distribution<double> noise(0.0, 1.0);
  charnn::Probe binary{"bin", "", charnn::ProbeKind::binary, {}};
  charnn::Probe cont{"cont", "", charnn::ProbeKind::continuous, {}};
  for (std::int64_t t = 0; t < n; ++t) {
    binary.values.push_back((t / 37) % 3 == 0 ? 1.0f : 0.0f);
    cont.values.push_back(static_cast<float>(t % 71));
  }
  const std::vector<charnn::TracedSignal> sigs = {{0, "h", 4}, {1, "c", 3}, {1, "f", 2}};
  std::vector<std::vector<float>> data(sigs.size());  // data[s]: (n, H_s)
  for (std::int64_t t = 0; t < n; ++t) {
    const double yb = binary.values[t], yc = cont.values[t] / 70.0;
    data[0].insert(data[0].end(),
                   {static_cast<float>(std::tanh(2 * yb - 1 + 0.5 * noise(rng))),
                    static_cast<float>(std::tanh(0.3 * noise(rng))),
                    static_cast<float>(std::tanh(yc - 0.5 + 0.2 * noise(rng))), -0.25f});
    data[1].insert(data[1].end(), {static_cast<float>(20 * yc + 3 * noise(rng)),
                                   static_cast<float>(-5 * yb + noise(rng)),
                                   static_cast<float>(1000 + noise(rng))});
    data[2].insert(data[2].end(), {static_cast<float>(1 / (1 + std::exp(-4 * yb + 2 + noise(rng)))),
                                   static_cast<float>(t % 10 == 0  ? 0.95
                                                      : t % 10 < 4 ? 0.05
                                                                   : 0.5)});
  }
  charnn::UnitRanker ranker(sigs, {&binary, &cont});
  // Uneven chunks, as the tracer's last chunk is.
  for (std::int64_t begin = 0; begin < n;) {
    const std::int64_t T = std::min<std::int64_t>(n - begin, begin % 2 ? 512 : 301);
    std::vector<std::span<const float>> spans;
    for (std::size_t s = 0; s < sigs.size(); ++s)
      spans.emplace_back(data[s].data() + begin * sigs[s].hidden, T * sigs[s].hidden);
    ranker.add(begin, T, spans);
    begin += T;
  }
  REQUIRE(ranker.units() == n);

  for (std::size_t s = 0; s < sigs.size(); ++s) {
    for (std::int64_t h = 0; h < sigs[s].hidden; ++h) {
      std::vector<double> x;
      for (std::int64_t t = 0; t < n; ++t) x.push_back(data[s][t * sigs[s].hidden + h]);
      const bool constant = std::all_of(x.begin(), x.end(), [&](double v) { return v == x[0]; });
      for (std::size_t p = 0; p < 2; ++p) {
        const auto& y = p == 0 ? binary.values : cont.values;
        const double r = ranker.pearson(p, s, h);
        if (constant) {
          CHECK(std::isnan(r));
          continue;
        }
        const double expect = direct_pearson(x, std::vector<double>(y.begin(), y.end()));
        INFO("signal " << sigs[s].name << " unit " << h << " probe " << p);
        CHECK_THAT(r, Catch::Matchers::WithinAbs(expect, 1e-4));
      }
      // AUROC from histograms: within the binning error; exact for the gate unit whose three
      // values fall in distinct bins. Continuous probes have none.
      CHECK(std::isnan(ranker.auroc(1, s, h)));
      const double a = ranker.auroc(0, s, h);
      if (constant) {
        CHECK_THAT(a, Catch::Matchers::WithinAbs(0.5, 1e-12));
        continue;
      }
      INFO("AUROC signal " << sigs[s].name << " unit " << h);
      // c is unbounded: far from 0 its values share few bins (c[2] ~ 1000 sits in one bin, so
      // its AUROC is exactly 1/2 where the true one is 1/2 +- sampling noise).
      const double tol = (s == 2 && h == 1) ? 1e-12 : s == 1 ? 0.05 : 0.005;
      CHECK_THAT(a, Catch::Matchers::WithinAbs(direct_auroc(x, binary.values), tol));
    }
  }

  // The planted units come out on top; the list is ordered by |r|.
  const auto top_bin = ranker.top(0, 3);
  REQUIRE(top_bin.size() == 3);
  for (std::size_t k = 1; k < top_bin.size(); ++k)
    CHECK(std::fabs(top_bin[k - 1].r) >= std::fabs(top_bin[k].r));
  const auto top_cont = ranker.top(1, 1);
  CHECK(top_cont[0].signal == 1);
  CHECK(top_cont[0].unit == 0);
  CHECK(top_cont[0].r > 0.85);  // 20 y + 3 noise: r = 0.887
  CHECK(std::isnan(top_cont[0].auroc));

  // Gate saturation: only f is a gate; unit 1 is < 0.1 30% and > 0.9 10% of the time.
  const auto sat = ranker.saturation();
  REQUIRE(sat.size() == 1);
  CHECK(sat[0].gate == "f");
  CHECK(sat[0].layer == 1);
  CHECK_THAT(sat[0].left[1], Catch::Matchers::WithinAbs(0.3, 1e-6));
  CHECK_THAT(sat[0].right[1], Catch::Matchers::WithinAbs(0.1, 1e-6));
  std::int64_t left0 = 0;
  for (std::int64_t t = 0; t < n; ++t) left0 += data[2][t * 2] < 0.1f;
  CHECK_THAT(sat[0].left[0], Catch::Matchers::WithinAbs(static_cast<double>(left0) / n, 1e-6));
  CHECK_THAT(sat[0].mean_left(),
             Catch::Matchers::WithinAbs((static_cast<double>(left0) / n + 0.3) / 2, 1e-6));
  CHECK(sat[0].count_left(0.35) == 0);
  CHECK(sat[0].count_left(0.2) == 2);
}

TEST_CASE("the ranker rejects chunks that do not fit its signals or probes", "[inspect][ranking]") {
  charnn::Probe p{"p", "", charnn::ProbeKind::binary, std::vector<float>(4, 0.0f)};
  charnn::UnitRanker ranker({{0, "h", 2}}, {&p});
  std::vector<float> x(10, 0.0f);
  std::vector<std::span<const float>> spans{std::span<const float>(x.data(), 4)};
  CHECK_THROWS_AS(ranker.add(0, 3, spans), charnn::error);  // 3 rows need 6 values
  spans[0] = std::span<const float>(x.data(), 10);
  CHECK_THROWS_AS(ranker.add(0, 5, spans), charnn::error);  // the probe has 4 units
  CHECK_NOTHROW(ranker.add(0, 4, spans));
  CHECK(std::isnan(ranker.pearson(0, 0, 0)));  // constant probe and unit: no r
}

namespace {

// The fractions a neuron's on/off split gives, computed directly from its values.
charnn::OnOff direct_on_off(const std::vector<float>& x, const std::vector<float>& label,
                            double threshold, bool above) {
  charnn::OnOff o;
  o.threshold = threshold;
  o.above = above;
  double pos = 0, neg = 0, on_in = 0, off_out = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const bool on = o.on(x[i]);
    if (label[i] >= 0.5f) {
      pos += 1;
      on_in += on;
    } else {
      neg += 1;
      off_out += !on;
    }
  }
  o.inside_on = on_in / pos;
  o.outside_off = off_out / neg;
  return o;
}

}  // namespace

TEST_CASE("on/off matching picks the threshold a direct search picks and ranks by it",
          "[inspect][ranking]") {
  const std::int64_t n = 4000;
  std::mt19937 rng(5);
  std::normal_distribution<double> noise(0.0, 0.1);
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  charnn::Probe sel{"sel", "", charnn::ProbeKind::binary, {}};
  for (std::int64_t t = 0; t < n; ++t) sel.values.push_back((t / 50) % 4 == 1 ? 1.0f : 0.0f);
  // Neuron 0 follows the selection but for 2% stray spikes; 1 is also on 30% of the time
  // outside; 2 is low inside (except 10% of the time) and high outside; 3 never moves.
  const std::vector<charnn::TracedSignal> sigs = {{0, "h", 4}};
  std::vector<float> data;
  for (std::int64_t t = 0; t < n; ++t) {
    const bool in = sel.values[t] >= 0.5f;
    const double spike = u01(rng), loose = u01(rng), miss = u01(rng);
    data.push_back(static_cast<float>((in || spike < 0.02 ? 0.8 : -0.6) + noise(rng)));
    data.push_back(static_cast<float>((in || loose < 0.3 ? 0.7 : -0.5) + noise(rng)));
    data.push_back(static_cast<float>((in && miss >= 0.1 ? -0.9 : 0.2) + noise(rng)));
    data.push_back(0.25f);
  }
  charnn::UnitRanker ranker(sigs, {&sel});
  for (std::int64_t begin = 0; begin < n; begin += 1000)
    ranker.add(
        begin, 1000,
        std::vector<std::span<const float>>{std::span<const float>(data.data() + begin * 4, 4000)});

  for (std::int64_t h = 0; h < 4; ++h) {
    INFO("neuron " << h);
    std::vector<float> x;
    for (std::int64_t t = 0; t < n; ++t) x.push_back(data[t * 4 + h]);
    const charnn::OnOff got = ranker.on_off(0, 0, h);
    // The fractions are those of the threshold it reports, counted directly.
    const charnn::OnOff direct = direct_on_off(x, sel.values, got.threshold, got.above);
    CHECK_THAT(got.inside_on, Catch::Matchers::WithinAbs(direct.inside_on, 1e-9));
    CHECK_THAT(got.outside_off, Catch::Matchers::WithinAbs(direct.outside_off, 1e-9));
    // No threshold at all does better than the histogram's bin edges by more than the values
    // falling in one bin can account for: sweep every cut between two sorted values.
    std::vector<std::size_t> order(x.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::sort(order.begin(), order.end(), [&](auto a, auto b) { return x[a] < x[b]; });
    double pos = 0, neg = 0;
    for (float l : sel.values) (l >= 0.5f ? pos : neg) += 1;
    double pos_below = 0, neg_below = 0, best = 0;
    for (std::size_t i = 0; i + 1 < order.size(); ++i) {
      (sel.values[order[i]] >= 0.5f ? pos_below : neg_below) += 1;
      if (x[order[i]] == x[order[i + 1]]) continue;
      best = std::max({best, std::min((pos - pos_below) / pos, neg_below / neg),
                       std::min(pos_below / pos, (neg - neg_below) / neg)});
    }
    CHECK(got.score() <= best + 1e-9);
    CHECK(got.score() >= best - 0.01);
  }
  CHECK(ranker.on_off(0, 0, 3).score() == 0.0);  // a constant separates nothing

  const auto top = ranker.top_on_off(0, 4);
  REQUIRE(top.size() == 4);
  CHECK(top[0].unit == 0);
  CHECK(top[0].on_off.above);
  CHECK(top[0].on_off.score() > 0.97);
  CHECK(top[1].unit == 2);  // on below its threshold
  CHECK_FALSE(top[1].on_off.above);
  CHECK_THAT(top[1].on_off.score(), Catch::Matchers::WithinAbs(0.9, 0.03));
  CHECK(top[2].unit == 1);
  // Inside and its 30% outside share one distribution: a threshold that keeps a fraction a of
  // them on scores min(a, 0.7 + 0.3 (1 - a)), best at a = 1 / 1.3.
  CHECK_THAT(top[2].on_off.score(), Catch::Matchers::WithinAbs(1 / 1.3, 0.03));
  CHECK(top[3].unit == 3);
  CHECK(top[0].r > 0.8);
  CHECK(top[0].auroc > 0.97);
  // Not a binary probe: nothing to match.
  charnn::Probe cont{"cont", "", charnn::ProbeKind::continuous, std::vector<float>(n, 1.0f)};
  charnn::UnitRanker only_cont(sigs, {&cont});
  CHECK(only_cont.on_off(0, 0, 0).score() == 0.0);
}

TEST_CASE("selections mark a span or a pattern and name what is wrong with bad ones",
          "[inspect][probes]") {
  const auto span = charnn::select_span("3:6", 10);
  CHECK(show(span.values) == "0001110000");
  CHECK(span.kind == charnn::ProbeKind::binary);
  CHECK(span.name == "units 3:6");
  for (const char* bad : {"3", "a:5", "5:3", "3:3", "3:11", "-1:4", ":4", "3:", "1:2:3"}) {
    INFO(bad);
    try {
      charnn::select_span(bad, 10);
      FAIL("accepted");
    } catch (const charnn::error& e) {
      CHECK_THAT(e.what(), Catch::Contains(bad));
      CHECK(e.exit_code() == 2);
      CHECK_THAT(e.hint(), Catch::Contains("0:10"));
    }
  }
  const std::string text = "ab (cd) e (f)";
  const auto b = charnn::unit_boundaries(text, charnn::UnitKind::codepoint);
  const auto parens = charnn::select_regex("\\([^)]*\\)", text, b);
  CHECK(show(parens.values) == "0001111000111");
  CHECK(parens.name == "/\\([^)]*\\)/");
  try {
    charnn::select_regex("a(b", text, b);
    FAIL("accepted");
  } catch (const charnn::error& e) {
    CHECK_THAT(e.what(), Catch::StartsWith("--select /a(b/"));
  }
  CHECK_THROWS_AS(charnn::select_regex("", text, b), charnn::error);
}

TEST_CASE("a retracted chunk leaves the ranker as it was without it", "[inspect][ranking]") {
  // The one-pass trace hands over values it later takes back (TraceChunk::retract).
  const std::int64_t n = 600, H = 3;
  charnn::Probe bin{"bin", "", charnn::ProbeKind::binary, {}};
  charnn::Probe cont{"cont", "", charnn::ProbeKind::continuous, {}};
  std::vector<float> right(n * H), wrong(n * H);
  for (std::int64_t t = 0; t < n; ++t) {
    bin.values.push_back(t % 7 < 3 ? 1.0f : 0.0f);
    cont.values.push_back(static_cast<float>(t % 13));
    for (std::int64_t h = 0; h < H; ++h) {
      right[t * H + h] = std::sin(0.1f * static_cast<float>(t * (h + 1))) * (h == 2 ? 3.0f : 1.0f);
      wrong[t * H + h] = std::cos(0.7f * static_cast<float>(t + h));
    }
  }
  const std::vector<charnn::TracedSignal> sigs = {{0, "z", H}};
  charnn::UnitRanker plain(sigs, {&bin, &cont}), taken_back(sigs, {&bin, &cont});
  auto add = [&](charnn::UnitRanker& r, const std::vector<float>& v, std::int64_t begin,
                 std::int64_t T, bool retract = false) {
    const std::vector<std::span<const float>> spans{
        std::span<const float>(v.data() + begin * H, static_cast<std::size_t>(T * H))};
    r.add(begin, T, spans, retract);
  };
  for (std::int64_t b = 0; b < n; b += 50) add(plain, right, b, 50);
  // Wrong values for units 100..300 in pieces, taken back in other pieces after the right ones.
  for (std::int64_t b = 0; b < 100; b += 50) add(taken_back, right, b, 50);
  for (std::int64_t b = 100; b < 300; b += 40) add(taken_back, wrong, b, 40);
  for (std::int64_t b = 100; b < n; b += 50) add(taken_back, right, b, 50);
  for (std::int64_t b = 100; b < 300; b += 40) add(taken_back, wrong, b, 40, true);
  CHECK(taken_back.units() == n);
  for (std::size_t p = 0; p < 2; ++p)
    for (std::int64_t h = 0; h < H; ++h) {
      CHECK_THAT(taken_back.pearson(p, 0, h),
                 Catch::Matchers::WithinAbs(plain.pearson(p, 0, h), 1e-6));
      if (p == 0) CHECK(taken_back.auroc(p, 0, h) == plain.auroc(p, 0, h));  // counts are exact
    }
  const auto a = plain.saturation(), b = taken_back.saturation();
  CHECK(a[0].left == b[0].left);
  CHECK(a[0].right == b[0].right);
}
