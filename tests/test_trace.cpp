// Tracing a text in side-by-side segments (trace.hpp) against one stream over the whole text:
// every signal and logit, at the seams and across chunks and blocks, for every built-in cell; a
// model that never forgets (every seam runs again, still exact); option and input errors.
#include <charnn/error.hpp>
#include <charnn/model.hpp>
#include <charnn/trace.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "training_support.hpp"

using charnn::Model;
using charnn::TraceChunk;
using charnn::TraceOptions;
using charnn::test::builtin_plugins;
using charnn::test::random_ids;

namespace {

std::unique_ptr<Model> model_of(std::vector<std::string> cells, std::int64_t H, std::int32_t V) {
  charnn::ModelConfig c;
  c.cells = std::move(cells);
  c.hidden = H;
  c.vocab_size = V;
  auto m = std::make_unique<Model>(c, builtin_plugins());
  m->init_params(7);
  return m;
}

// The whole trace gathered from the chunks: [layer][signal] (units, H), then the logits; and the
// chunks' order checked on the way.
struct Gathered {
  std::vector<std::vector<std::vector<float>>> signals;
  std::vector<float> logits;
  std::int64_t chunks = 0;
};

Gathered gather(Model& model, const std::vector<std::int32_t>& ids, const TraceOptions& options,
                charnn::TraceStats* stats = nullptr) {
  Gathered g;
  std::int64_t next = 0;
  const auto s = charnn::trace_text(
      model, ids,
      [&](const TraceChunk& c) {
        REQUIRE(c.begin == next);
        REQUIRE(c.T >= 1);
        REQUIRE(c.T <= options.chunk);
        next += c.T;
        g.signals.resize(c.signals.size());
        for (std::size_t l = 0; l < c.signals.size(); ++l) {
          g.signals[l].resize(c.signals[l].size());
          for (std::size_t k = 0; k < c.signals[l].size(); ++k) {
            REQUIRE(c.signals[l][k].size() == static_cast<std::size_t>(c.T * model.hidden()));
            g.signals[l][k].insert(g.signals[l][k].end(), c.signals[l][k].begin(),
                                   c.signals[l][k].end());
          }
        }
        g.logits.insert(g.logits.end(), c.logits.begin(), c.logits.end());
        ++g.chunks;
      },
      options);
  CHECK(next == static_cast<std::int64_t>(ids.size()));
  if (stats) *stats = s;
  return g;
}

// |a - b| <= tol * max(1, |b|) everywhere; the first place it fails is reported.
void expect_same(const Gathered& got, const Gathered& want, std::int64_t H, std::int64_t V,
                 double tol) {
  auto close = [&](const std::vector<float>& a, const std::vector<float>& b, const char* what,
                   std::int64_t width) {
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i)
      if (!(std::fabs(a[i] - b[i]) <= tol * std::max(1.0, std::fabs(double{b[i]})))) {
        FAIL(what << ": unit " << i / static_cast<std::size_t>(width) << " value "
                  << i % static_cast<std::size_t>(width) << " is " << a[i] << ", one stream gives "
                  << b[i]);
      }
  };
  REQUIRE(got.signals.size() == want.signals.size());
  for (std::size_t l = 0; l < got.signals.size(); ++l)
    for (std::size_t k = 0; k < got.signals[l].size(); ++k)
      close(got.signals[l][k], want.signals[l][k], "a signal", H);
  close(got.logits, want.logits, "the logits", V);
}

// The same from trace_text_any_order: each chunk put in its place, and every unit delivered
// exactly once once the retracted chunks are taken off (counted again after a restart). A
// retracted chunk must hold exactly the values of a delivery of its units still standing.
Gathered gather_any_order(Model& model, const std::vector<std::int32_t>& ids,
                          const TraceOptions& options, charnn::TraceStats* stats,
                          std::int64_t* restarts, std::int64_t* retracted = nullptr) {
  const auto n = static_cast<std::size_t>(ids.size());
  const auto H = static_cast<std::size_t>(model.hidden());
  const auto V = static_cast<std::size_t>(model.vocab_size());
  Gathered g;
  std::vector<std::vector<std::uint64_t>> live(n);  // a hash of each standing delivery
  g.signals.resize(static_cast<std::size_t>(model.num_layers()));
  for (std::int32_t l = 0; l < model.num_layers(); ++l)
    g.signals[static_cast<std::size_t>(l)].assign(model.layer(l).signals().size(),
                                                  std::vector<float>(n * H));
  g.logits.resize(n * V);
  *restarts = 0;
  std::int64_t taken_back = 0;
  auto hash_row = [&](const TraceChunk& c, std::size_t t) {
    std::uint64_t h = 1469598103934665603ull;
    auto mix = [&](std::span<const float> all, std::size_t width) {
      for (std::size_t k = 0; k < width; ++k) {
        std::uint32_t bits;
        std::memcpy(&bits, &all[t * width + k], sizeof bits);
        h = (h ^ bits) * 1099511628211ull;
      }
    };
    for (const auto& layer : c.signals)
      for (const auto& sig : layer) mix(sig, H);
    mix(c.logits, V);
    return h;
  };
  const auto s = charnn::trace_text_any_order(
      model, ids,
      [&](const TraceChunk& c) {
        REQUIRE(c.T >= 1);
        REQUIRE(c.T <= options.chunk);
        REQUIRE(c.begin >= 0);
        REQUIRE(static_cast<std::size_t>(c.begin + c.T) <= n);
        const auto b = static_cast<std::size_t>(c.begin), T = static_cast<std::size_t>(c.T);
        for (std::size_t t = 0; t < T; ++t) {
          auto& l = live[b + t];
          const std::uint64_t h = hash_row(c, t);
          if (c.retract) {
            const auto it = std::find(l.begin(), l.end(), h);
            REQUIRE(it != l.end());
            l.erase(it);
          } else {
            l.push_back(h);
          }
        }
        if (c.retract) {
          taken_back += c.T;
          return;
        }
        for (std::size_t l = 0; l < c.signals.size(); ++l)
          for (std::size_t k = 0; k < c.signals[l].size(); ++k)
            std::copy(c.signals[l][k].begin(), c.signals[l][k].end(),
                      g.signals[l][k].begin() + static_cast<std::ptrdiff_t>(b * H));
        std::copy(c.logits.begin(), c.logits.end(),
                  g.logits.begin() + static_cast<std::ptrdiff_t>(b * V));
        ++g.chunks;
      },
      [&] {
        ++*restarts;
        for (auto& l : live) l.clear();
      },
      options);
  CHECK(std::all_of(live.begin(), live.end(), [](const auto& l) { return l.size() == 1; }));
  if (stats) *stats = s;
  if (retracted) *retracted = taken_back;
  return g;
}

TraceOptions one_stream() {
  TraceOptions o;
  o.streams = 1;
  o.chunk = 1 << 20;
  return o;
}

TraceOptions side_by_side(std::int64_t streams, std::int64_t warmup, std::int64_t chunk) {
  TraceOptions o;
  o.streams = streams;
  o.warmup = warmup;
  o.chunk = chunk;
  return o;
}

}  // namespace

TEST_CASE("side-by-side segments trace what one stream over the whole text traces",
          "[trace]") {
  const auto cells = GENERATE(std::vector<std::string>{"lstm", "lstm"},
                              std::vector<std::string>{"elman", "elman"},
                              std::vector<std::string>{"elman", "lstm"},
                              std::vector<std::string>{"gru", "gru"});
  CAPTURE(cells);
  const std::int64_t H = 8;
  const std::int32_t V = 11;
  auto model = model_of(cells, H, V);
  const auto ids = random_ids(5000, V, 3);
  const Gathered want = gather(*model, ids, one_stream());

  // The untrained cells forget within a 300-unit warm-up (seams agree to the default 1e-5);
  // 7-unit chunks end inside segments, with a short last one.
  TraceOptions o = side_by_side(5, 300, 7);
  o.memory_mb = 1;  // lstm: 11 segments of 490 units, so blocks of 5, 5 and 1; the first pass
                    // finds their states in 4 streams of 3 segments
  charnn::TraceStats stats;
  const Gathered got = gather(*model, ids, o, &stats);
  INFO(charnn::describe(stats));
  CHECK(stats.units == 5000);
  CHECK(stats.streams == 5);
  CHECK(stats.seams >= 3);
  CHECK(stats.one_stream_from == -1);
  CHECK(stats.warmup_units > 0);
  expect_same(got, want, H, V, 2e-5);
}

namespace {

// One LSTM layer whose cell state sums the input since the last unit 0: i = 1, g = tanh(w_x[id]),
// f = 1, except f = 0 on unit 0 (reset) when `resets`. Its output layer is zero.
std::unique_ptr<Model> summing_model(bool resets) {
  const std::int64_t H = 3;
  const std::int32_t V = 4;
  auto model = model_of({"lstm"}, H, V);
  const auto wx = model->view("layer0.lstm.w_x");  // (V, 4, H), gates i, f, g, o
  const auto b = model->view("layer0.lstm.b");      // (4, H)
  auto p = model->params();
  std::fill(p.begin(), p.begin() + model->view("out.w").offset, 0.0f);
  auto at = [&](std::int64_t i) -> float& { return p[static_cast<std::size_t>(i)]; };
  for (std::int64_t h = 0; h < H; ++h) {
    at(b.offset + 0 * H + h) = 30.0f;  // i = 1
    at(b.offset + 1 * H + h) = 30.0f;  // f = 1
    if (resets) at(wx.offset + (0 * 4 + 1) * H + h) = -60.0f;  // f = 0 on unit 0
    for (std::int32_t v = 0; v < V; ++v)
      at(wx.offset + (v * 4 + 2) * H + h) = 0.05f * static_cast<float>(v - 1) * static_cast<float>(h + 1);
  }
  return model;
}

}  // namespace

TEST_CASE("a seam whose warm-up falls short runs again from the true state", "[trace]") {
  auto model = summing_model(true);
  // The layout: 8 segments of 400 units, so the first pass has seams at 400, 800, 1200, ...
  // Unit 0 every 20 units resets the sum, so a 30-unit warm-up finds the true state, except
  // before unit 1200, which no reset precedes for 70 units.
  auto ids = random_ids(3200, 4, 9);
  for (auto& id : ids) id = 1 + id % 3;
  for (std::size_t u = 0; u < ids.size(); u += 20)
    if (u < 1130 || u >= 1280) ids[u] = 0;
  const Gathered want = gather(*model, ids, one_stream());

  charnn::TraceStats stats;
  const Gathered got = gather(*model, ids, side_by_side(8, 30, 64), &stats);
  CHECK(stats.streams == 8);
  CHECK(stats.seams == 7);
  CHECK(stats.reruns == 1);
  CHECK(stats.one_stream_from == -1);
  expect_same(got, want, 3, 4, 1e-5);
}

TEST_CASE("a model that never forgets is traced as one stream from the first seam still apart",
          "[trace]") {
  auto model = summing_model(false);  // the sum of the whole past: no warm-up finds it
  const auto ids = random_ids(3000, 4, 9);
  const Gathered want = gather(*model, ids, one_stream());

  charnn::TraceStats stats;
  const Gathered got = gather(*model, ids, side_by_side(4, 50, 64), &stats);
  REQUIRE(stats.seams > 0);
  // 4 streams of one 750-unit segment: the first round of re-runs (3 streams) never agrees, so
  // the two segments before the first seam still apart are right and the rest runs as one
  // stream, without finding its states first.
  CHECK(stats.one_stream_from == 1500);
  CHECK(stats.rerun_units == 3 * 750);
  CHECK_THAT(charnn::describe(stats), Catch::Contains("one stream from unit 1500: the model "
                                                      "remembers further back than a 50-unit"));
  expect_same(got, want, 3, 4, 1e-5);
}

namespace {

// The summing model traced in `streams` side by side with a 50-unit warm-up and 1 MB for a
// block's trace, checked against one stream; its stats. 1 MB holds 2,978 units of 4 streams'
// trace (4 logits and 6 signals of 3 a unit) and 372 of 32 streams'.
charnn::TraceStats trace_summing(bool resets, std::int64_t units, std::int64_t streams) {
  auto model = summing_model(resets);
  const auto ids = random_ids(units, 4, 9);
  const Gathered want = gather(*model, ids, one_stream());
  TraceOptions o = side_by_side(streams, 50, 4096);
  o.memory_mb = 1;
  charnn::TraceStats stats;
  const Gathered got = gather(*model, ids, o, &stats);
  expect_same(got, want, 3, 4, 1e-5);
  return stats;
}

}  // namespace

TEST_CASE("probes judge a stream shorter than 8 segments one segment in", "[trace]") {
  // 4 streams of 5 segments of 2,978 units: the probes run one segment, find all 3 pairs apart,
  // and no seam runs again (before the probes, the 3 re-runs ran all 5 segments each).
  const std::int64_t segment = 2978;
  const auto stats = trace_summing(false, 48000, 4);
  CHECK(stats.seams == 3);
  CHECK(stats.reruns == 0);
  CHECK(stats.rerun_units == 0);
  CHECK(stats.probed_units == segment);
  CHECK(stats.one_stream_from == segment);
}

TEST_CASE("probes tell a model that never forgets before the first pass runs its streams",
          "[trace]") {
  // 4 streams of 8 segments: the probes run one segment, 3 from the zero state beside the first
  // pass's first segment, find all 3 pairs apart, and the text runs as one stream from the end
  // of that segment of stream 0 (from the true state).
  const std::int64_t segment = 2978;
  const auto stats = trace_summing(false, 32 * segment, 4);
  CHECK(stats.seams == 3);
  CHECK(stats.reruns == 0);
  CHECK(stats.rerun_units == 0);
  CHECK(stats.warmup_units == 3 * 50 + 3 * segment);
  CHECK(stats.one_stream_from == segment);
}

TEST_CASE("where the probes agree, the first pass goes on from them", "[trace]") {
  const std::int64_t segment = 2978;  // 4 streams of 8 segments, as above
  const auto stats = trace_summing(true, 32 * segment, 4);  // unit 0 resets the sum
  CHECK(stats.seams == 3);
  CHECK(stats.warmup_units == 3 * 50 + 3 * segment);
  CHECK(stats.one_stream_from == -1);
  CHECK(stats.streams == 4);
}

TEST_CASE("the probes leave out a last stream that ends within its eighth", "[trace]") {
  // 32 streams: 993 segments of 372 units make 31 streams of 32 and a last one of 1, which ends
  // before the probes' 4 segments do.
  const std::int64_t segment = 372;
  const auto stats = trace_summing(true, 993 * segment, 32);
  CHECK(stats.seams == 31);
  CHECK(stats.probe_regions == 30);
  CHECK(stats.probes_agreed == 30);
  CHECK(stats.probed_units == 4 * segment);
  CHECK(stats.one_stream_from == -1);
}

TEST_CASE("one pass in any order traces what one stream over the whole text traces", "[trace]") {
  const auto cells =
      GENERATE(std::vector<std::string>{"lstm", "lstm"}, std::vector<std::string>{"elman", "lstm"},
               std::vector<std::string>{"gru", "gru"});
  CAPTURE(cells);
  const std::int64_t H = 8;
  const std::int32_t V = 11;
  auto model = model_of(cells, H, V);
  const auto ids = random_ids(40000, V, 3);

  // 4 regions of 10,000 units in passes of 256 rows; 7-unit chunks split the passes' rows.
  charnn::TraceStats stats;
  std::int64_t restarts = 0;
  const Gathered got = gather_any_order(*model, ids, side_by_side(4, 300, 7), &stats, &restarts);
  INFO(charnn::describe(stats));
  CHECK(restarts == 0);
  CHECK(stats.one_pass);
  CHECK(stats.restarted_at == -1);
  CHECK(stats.units == 40000);
  CHECK(stats.streams == 4);
  CHECK(stats.reruns == 3);
  // The untrained cells forget within a pass or two: each region holds back a few passes.
  CHECK(stats.rerun_units >= 3 * 512);
  CHECK(stats.rerun_units <= 3 * 2048);
  CHECK_THAT(charnn::describe(stats), Catch::Contains("one pass, 4 regions side by side"));
  Gathered want = gather(*model, ids, one_stream());
  expect_same(got, want, H, V, 2e-5);

  // The logits alone (eval), from the cells' forward pass: the same logits and no signals, in
  // one pass and in two.
  TraceOptions bare = side_by_side(4, 300, 7);
  bare.signals = false;
  Gathered bare_any = gather_any_order(*model, ids, bare, &stats, &restarts);
  CHECK(stats.one_pass);
  Gathered bare_ordered = gather(*model, ids, bare);
  CHECK(bare_ordered.signals == std::vector<std::vector<std::vector<float>>>(cells.size()));
  want.signals.clear();
  bare_any.signals.clear();
  bare_ordered.signals.clear();
  expect_same(bare_any, want, H, V, 2e-5);
  expect_same(bare_ordered, want, H, V, 2e-5);

  // A text too short for 4 regions of 8,192 units takes the two passes, in order.
  const auto short_ids = random_ids(30000, V, 5);
  const Gathered short_got =
      gather_any_order(*model, short_ids, side_by_side(4, 300, 128), &stats, &restarts);
  CHECK_FALSE(stats.one_pass);
  CHECK(restarts == 0);
  expect_same(short_got, gather(*model, short_ids, one_stream()), H, V, 2e-5);
}

TEST_CASE(
    "one pass mends a region that remembers past its hold, and restarts where it never "
    "forgets",
    "[trace]") {
  auto ids = random_ids(40000, 4, 9);
  for (auto& id : ids) id = 1 + id % 3;
  charnn::TraceStats stats;
  std::int64_t restarts = 0, retracted = 0;
  auto resetting = summing_model(true);
  // The text with a reset (id 0) every 20 units but in [from, to).
  auto resets_but = [&](std::size_t from, std::size_t to) {
    auto out = ids;
    for (std::size_t u = 0; u < out.size(); u += 20)
      if (u < from || u >= to) out[u] = 0;
    return out;
  };
  // One pass with a 50-unit warm-up, nothing mended, `reruns` units held back and run again.
  auto one_clean_pass = [&](const std::vector<std::int32_t>& text, std::int64_t reruns) {
    const Gathered got =
        gather_any_order(*resetting, text, side_by_side(4, 50, 64), &stats, &restarts);
    INFO(charnn::describe(stats));
    CHECK(restarts == 0);
    CHECK(stats.one_pass);
    CHECK(stats.mended == 0);
    CHECK(stats.rerun_units == reruns);
    expect_same(got, gather(*resetting, text, one_stream()), 3, 4, 1e-5);
  };
  {
    INFO("resets every 20 units: the probe agrees after one pass, so two are held back");
    one_clean_pass(resets_but(0, 0), 3 * 512);
  }
  {
    INFO(
        "no reset for 2,000 units from the third region's start: its probe agrees only after "
        "them, past an eighth of the region, but the other two agreed at once, so it probes on; "
        "the other two hold back 512 units, the third agreed at 2,048 and holds the cap, 2,304");
    one_clean_pass(resets_but(20000, 22000), 2 * 512 + 2304);
  }
  {
    INFO(
        "no warm-up, and no reset for 700 units from the second region's start: the probe is "
        "the pass itself and agrees at once, but the true start differs until unit 10700");
    const auto gap_ids = resets_but(9990, 10700);
    const Gathered got = gather_any_order(*resetting, gap_ids, side_by_side(4, 0, 64), &stats,
                                          &restarts, &retracted);
    INFO(charnn::describe(stats));
    CHECK(restarts == 0);
    CHECK(stats.one_pass);
    CHECK(stats.mended == 1);
    // Held back 512 units, mended from there to the pass boundary after 10700: 768.
    CHECK(retracted == 256);
    CHECK_THAT(charnn::describe(stats), Catch::Contains("1 mended where the model remembered"));
    expect_same(got, gather(*resetting, gap_ids, one_stream()), 3, 4, 1e-5);
  }
  {
    INFO(
        "never forgets: the probes never agree, so the pass gives way an eighth of a region in "
        "(1,280 units: whole passes of 256), and the text runs as one stream");
    auto model = summing_model(false);
    const Gathered got = gather_any_order(*model, ids, side_by_side(4, 50, 64), &stats, &restarts);
    CHECK(restarts == 1);
    CHECK_FALSE(stats.one_pass);
    CHECK(stats.streams == 1);
    CHECK(stats.restarted_at == 10000);
    CHECK(stats.probe_regions == 3);
    CHECK(stats.probes_agreed == 0);
    CHECK(stats.probed_units == 1280);
    CHECK_THAT(charnn::describe(stats),
               Catch::Contains("one stream: a one-pass trace gave way at unit 10000, where 3 of "
                               "3 regions still remembered their warm-up's start 1280 units in"));
    expect_same(got, gather(*model, ids, one_stream()), 3, 4, 1e-5);
    INFO("and without a warm-up its probe agrees at once, wrongly: mending runs out instead");
    const Gathered cold =
        gather_any_order(*model, ids, side_by_side(4, 0, 64), &stats, &restarts, &retracted);
    CHECK(restarts == 1);
    CHECK(retracted >= 2500);  // a quarter of the 10,000-unit region
    CHECK(stats.restarted_at == 10000);
    expect_same(cold, gather(*model, ids, one_stream()), 3, 4, 1e-5);
  }
}

TEST_CASE("trace_text takes short texts and refuses bad options and ids", "[trace]") {
  auto model = model_of({"lstm"}, 4, 5);
  for (std::size_t n : {1u, 2u, 31u}) {
    CAPTURE(n);
    const auto ids = random_ids(n, 5, 1);
    const Gathered want = gather(*model, ids, one_stream());
    const Gathered got = gather(*model, ids, TraceOptions{});
    expect_same(got, want, 4, 5, 1e-5);
  }
  std::int64_t calls = 0;
  const auto sink = [&](const TraceChunk&) { ++calls; };
  CHECK(charnn::trace_text(*model, {}, sink).units == 0);
  CHECK(calls == 0);

  const std::vector<std::int32_t> ids{0, 1, 2};
  auto refused = [&](TraceOptions o, const std::string& says) {
    CHECK_THROWS_WITH(charnn::trace_text(*model, ids, sink, o), Catch::Contains(says));
  };
  TraceOptions o;
  o.streams = 0;
  refused(o, "streams must be at least 1");
  o = {};
  o.chunk = 0;
  refused(o, "chunk must be at least 1");
  o = {};
  o.warmup = -1;
  refused(o, "warmup must be at least 0");
  o = {};
  o.memory_mb = 0;
  refused(o, "memory_mb must be at least 1");
  o = {};
  o.tolerance = std::nanf("");
  refused(o, "tolerance");
  const std::vector<std::int32_t> bad{0, 5};
  CHECK_THROWS_WITH(charnn::trace_text(*model, bad, sink),
                    Catch::Contains("unit id 5 at 1 is outside the vocabulary"));
  CHECK(calls == 0);
}

TEST_CASE("score_text scores every unit after the first as one stream, whatever the options",
          "[trace][eval]") {
  auto model = model_of({"lstm", "elman"}, 6, 9);
  const auto ids = random_ids(1500, 9, 4);
  // Reference: one step at a time from the zero state.
  Model::State state = model->zero_state(1);
  std::vector<float> logits(9);
  double sum = 0;
  for (std::size_t t = 0; t + 1 < ids.size(); ++t) {
    model->step(std::span<const std::int32_t>(&ids[t], 1), state, logits.data());
    sum += charnn::unit_nats(logits.data(), 9, ids[t + 1]);
  }
  const double want = sum / static_cast<double>(ids.size() - 1);
  for (std::int64_t streams : {1, 4, 32}) {
    CAPTURE(streams);
    std::int64_t last_done = 0, last_total = 0, calls = 0;
    const auto s = charnn::score_text(*model, ids, side_by_side(streams, 300, 128),
                                      [&](std::int64_t done, std::int64_t total) {
                                        last_done = done, last_total = total;
                                        ++calls;
                                      });
    CHECK(s.scored == 1499);
    CHECK_THAT(s.nats, Catch::Matchers::WithinRel(want, 1e-5));
    // Progress (charnn eval's line) ends on the whole text.
    CHECK(calls > 1);
    CHECK(last_total == 1500);
    CHECK(last_done == 1500);
  }
  CHECK(std::isnan(charnn::score_text(*model, std::vector<std::int32_t>{3}).nats));
}
