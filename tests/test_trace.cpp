// Tracing a text in side-by-side segments (trace.hpp) against one stream over the whole text:
// every signal and logit, at the seams and across chunks and blocks, for every built-in cell; a
// model that never forgets (every seam runs again, still exact); option and input errors.
#include <charnn/error.hpp>
#include <charnn/model.hpp>
#include <charnn/trace.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
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

TEST_CASE("a model that never forgets has its start states found one stream at a time",
          "[trace]") {
  auto model = summing_model(false);  // the sum of the whole past: no warm-up finds it
  const auto ids = random_ids(3000, 4, 9);
  const Gathered want = gather(*model, ids, one_stream());

  charnn::TraceStats stats;
  const Gathered got = gather(*model, ids, side_by_side(4, 50, 64), &stats);
  REQUIRE(stats.seams > 0);
  CHECK(stats.one_stream_from >= 0);
  CHECK(stats.one_stream_from < 3000);
  CHECK_THAT(charnn::describe(stats), Catch::Contains("remembers further back than a 50-unit"));
  expect_same(got, want, 3, 4, 1e-5);
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
    const auto s = charnn::score_text(*model, ids, side_by_side(streams, 300, 128));
    CHECK(s.scored == 1499);
    CHECK_THAT(s.nats, Catch::Matchers::WithinRel(want, 1e-5));
  }
  CHECK(std::isnan(charnn::score_text(*model, std::vector<std::int32_t>{3}).nats));
}
