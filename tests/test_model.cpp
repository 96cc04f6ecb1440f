// The model as a whole: the full gradient (softmax cross-entropy, output layer, dropout, every
// cell layer, carried state) against central finite differences; the three inference paths
// (evaluate, step, trace) against each other; dropout determinism; the flat parameter views.
#include <charnn/error.hpp>
#include <charnn/model.hpp>
#include <charnn/threads.hpp>
#include <charnn/trace.hpp>
#include <charnn/trainer.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>

#include "training_support.hpp"

using charnn::Model;
using charnn::ModelConfig;
using charnn::test::builtin_plugins;
using charnn::test::random_ids;

namespace {

std::unique_ptr<Model> tiny_model(std::vector<std::string> cells, float dropout, std::int64_t H = 5,
                                  std::int32_t V = 7,
                                  charnn::DropoutMask mask = charnn::DropoutMask::step,
                                  float weight_drop = 0.0f) {
  ModelConfig c;
  c.cells = std::move(cells);
  c.hidden = H;
  c.vocab_size = V;
  c.dropout = dropout;
  c.dropout_mask = mask;
  c.weight_drop = weight_drop;
  auto m = std::make_unique<Model>(c, builtin_plugins());
  m->init_params(42);
  // Larger weights than the init make every nonlinearity work away from its linear region.
  for (auto& w : m->params()) w *= 2.0f;
  return m;
}

}  // namespace

TEST_CASE("model gradients match finite differences", "[model]") {
  charnn::set_threads(1);
  const auto cells =
      GENERATE(std::vector<std::string>{"lstm", "lstm"}, std::vector<std::string>{"elman", "lstm"},
               std::vector<std::string>{"gru", "gru"});
  const float dropout = GENERATE(0.0f, 0.3f);
  const auto mask = GENERATE(charnn::DropoutMask::step, charnn::DropoutMask::segment);
  const float weight_drop = GENERATE(0.0f, 0.4f);
  if (dropout == 0 && mask == charnn::DropoutMask::segment) return;  // nothing to mask
  if (weight_drop > 0 && mask == charnn::DropoutMask::segment) return;  // enough with step
  CAPTURE(cells, dropout, charnn::to_string(mask), weight_drop);
  auto model = tiny_model(cells, dropout, 5, 7, mask, weight_drop);
  const std::int64_t T = 4, N = 3;
  const auto inputs = random_ids(T * N, 7, 1), targets = random_ids(T * N, 7, 2);
  // A non-zero carried state, as in the middle of an epoch.
  Model::State start = model->zero_state(N);
  {
    const auto warm = random_ids(5 * N, 7, 3);
    std::vector<std::int32_t> warm_targets(warm.begin(), warm.end());
    model->evaluate(warm, warm_targets, 5, start);
  }
  const std::uint64_t seed = 99;  // the same dropout masks in every evaluation
  auto loss_at = [&]() {
    Model::State s = start;
    return model->train_step(inputs, targets, T, s, seed);
  };
  loss_at();
  const std::vector<float> analytic(model->grads().begin(), model->grads().end());
  auto params = model->params();
  double worst = 0;
  std::string worst_name;
  for (const auto& view : model->views()) {
    for (std::int64_t k = 0; k < view.size; ++k) {
      const std::size_t i = static_cast<std::size_t>(view.offset + k);
      const float keep = params[i];
      const float eps = 4e-3f;
      params[i] = keep + eps;
      const double up = loss_at();
      params[i] = keep - eps;
      const double down = loss_at();
      params[i] = keep;
      const double numeric = (up - down) / (2.0 * static_cast<double>(eps));
      const double err = std::abs(numeric - analytic[i]) /
                         std::max(1e-2, std::abs(numeric) + std::abs(analytic[i]));
      if (err > worst) {
        worst = err;
        worst_name = view.name + "[" + std::to_string(k) + "] analytic " +
                     std::to_string(analytic[i]) + " numeric " + std::to_string(numeric);
      }
    }
  }
  INFO("worst: " << worst_name);
  CHECK(worst < 2e-2);
  charnn::set_threads(0);
}

TEST_CASE("evaluate, step and trace compute the same predictions", "[model]") {
  auto model = tiny_model({"lstm", "elman"}, 0.0f, 8, 11);
  const auto ids = random_ids(40, 11, 5);
  const std::size_t T = ids.size() - 1;
  const std::int64_t V = 11;

  // Reference: step one unit at a time, scoring each next unit.
  Model::State s_step = model->zero_state(1);
  std::vector<float> step_logits(T * V);
  double step_loss = 0;
  for (std::size_t t = 0; t < T; ++t) {
    model->step(std::span<const std::int32_t>(&ids[t], 1), s_step, &step_logits[t * V]);
    const float* x = &step_logits[t * V];
    double mx = x[0], sum = 0;
    for (std::int64_t v = 1; v < V; ++v) mx = std::max<double>(mx, x[v]);
    for (std::int64_t v = 0; v < V; ++v) sum += std::exp(x[v] - mx);
    step_loss += mx + std::log(sum) - x[ids[t + 1]];
  }

  Model::State s_eval = model->zero_state(1);
  const std::span<const std::int32_t> all(ids);
  const double eval_loss =
      model->evaluate(all.first(T), all.subspan(1, T), static_cast<std::int64_t>(T), s_eval);
  CHECK_THAT(eval_loss, Catch::Matchers::WithinRel(step_loss, 1e-5));

  std::vector<float> trace_logits;
  std::int64_t chunks = 0;
  charnn::TraceOptions one;
  one.streams = 1;
  one.chunk = 7;
  charnn::trace_text(
      *model, all.first(T),
      [&](const charnn::TraceChunk& c) {
        CHECK(c.begin == static_cast<std::int64_t>(trace_logits.size()) / V);
        REQUIRE(c.signals.size() == 2);
        CHECK(c.signals[0].size() == model->layer(0).signals().size());
        for (const auto& sig : c.signals[1]) CHECK(sig.size() == static_cast<std::size_t>(c.T * 8));
        trace_logits.insert(trace_logits.end(), c.logits.begin(), c.logits.end());
        ++chunks;
      },
      one);
  CHECK(chunks == 6);  // 39 units in chunks of 7
  REQUIRE(trace_logits.size() == step_logits.size());
  for (std::size_t i = 0; i < step_logits.size(); ++i)
    REQUIRE_THAT(trace_logits[i], Catch::Matchers::WithinAbs(step_logits[i], 1e-4));
  // The pass under trace_text, on the whole text at once, ends in the same state.
  Model::State s_trace = model->zero_state(1);
  const auto& whole = model->trace(all.first(T), static_cast<std::int64_t>(T), s_trace);
  REQUIRE(whole.logits.size() == step_logits.size());
  for (std::size_t i = 0; i < step_logits.size(); ++i)
    REQUIRE_THAT(whole.logits[i], Catch::Matchers::WithinAbs(step_logits[i], 1e-4));
  // All three carried the state to the same place.
  for (std::size_t l = 0; l < 2; ++l)
    for (std::size_t i = 0; i < s_step.layers[l].size(); ++i) {
      REQUIRE_THAT(s_eval.layers[l][i], Catch::Matchers::WithinAbs(s_step.layers[l][i], 1e-5));
      REQUIRE_THAT(s_trace.layers[l][i], Catch::Matchers::WithinAbs(s_step.layers[l][i], 1e-5));
    }
}

TEST_CASE("dropout masks are a pure function of the seed", "[model]") {
  auto model = tiny_model({"lstm", "lstm"}, 0.5f, 6, 9);
  const auto in = random_ids(5 * 2, 9, 7), out = random_ids(5 * 2, 9, 8);
  auto run = [&](std::uint64_t seed) {
    Model::State s = model->zero_state(2);
    const double loss = model->train_step(in, out, 5, s, seed);
    return std::make_pair(loss, std::vector<float>(model->grads().begin(), model->grads().end()));
  };
  const auto a = run(1), b = run(1), c = run(2);
  CHECK(a.first == b.first);
  CHECK(a.second == b.second);
  CHECK(a.first != c.first);
  // Evaluation never drops: two evaluations agree with each other whatever the training seed.
  Model::State s1 = model->zero_state(2), s2 = model->zero_state(2);
  CHECK(model->evaluate(in, out, 5, s1) == model->evaluate(in, out, 5, s2));
}

TEST_CASE("weight drop masks the recurrent weights of training steps alone", "[model]") {
  const std::int64_t H = 8, T = 6, N = 2;
  const std::int32_t V = 9;
  const auto in = random_ids(T * N, V, 21), out = random_ids(T * N, V, 22);
  auto dropped = tiny_model({"gru", "lstm"}, 0.0f, H, V, charnn::DropoutMask::step, 0.5f);
  auto plain = tiny_model({"gru", "lstm"}, 0.0f, H, V);
  REQUIRE(std::equal(dropped->params().begin(), dropped->params().end(), plain->params().begin()));
  Model::State s = dropped->zero_state(N);
  const double loss = dropped->train_step(in, out, T, s, 5);
  // A dropped weight takes no part in the step, so its gradient is exactly zero; about half are.
  for (const auto& view : dropped->views()) {
    CAPTURE(view.name);
    const auto g = dropped->grads().subspan(static_cast<std::size_t>(view.offset),
                                            static_cast<std::size_t>(view.size));
    const auto zeros = std::count(g.begin(), g.end(), 0.0f);
    if (view.name.ends_with(".w_h")) {
      CHECK(zeros > view.size / 4);
      CHECK(zeros < view.size * 3 / 4);
    } else if (view.name == "layer1.lstm.w_x" || view.name == "out.w") {
      CHECK(zeros == 0);  // layer 0's w_x is left out: its unused inputs' rows are zero
    }
  }
  Model::State p = plain->zero_state(N);
  CHECK(loss != plain->train_step(in, out, T, p, 5));
  // Evaluation uses every weight: the two models score the same.
  Model::State e1 = dropped->zero_state(N), e2 = plain->zero_state(N);
  CHECK(dropped->evaluate(in, out, T, e1) == plain->evaluate(in, out, T, e2));
  CHECK_THROWS_WITH(tiny_model({"gru"}, 0.0f, H, V, charnn::DropoutMask::step, 1.0f),
                    Catch::Contains("weight drop must be in [0, 1)"));
}

TEST_CASE("a segment's dropout mask silences the same units at every step of a stream",
          "[model]") {
  // The last layer's dropped output reaches only out.w: a unit silenced at every step of the
  // one stream leaves its row of out.w's gradient all zero; silenced at some steps, it does not.
  const std::int64_t H = 8, T = 24;
  const std::int32_t V = 9;
  const auto in = random_ids(T, V, 11), out = random_ids(T, V, 12);
  const auto zero_rows = [&](charnn::DropoutMask mask) {
    auto model = tiny_model({"gru"}, 0.5f, H, V, mask);
    int rows = 0;
    for (std::uint64_t seed = 1; seed <= 4; ++seed) {
      Model::State s = model->zero_state(1);
      model->train_step(in, out, T, s, seed);
      const auto view = model->view("out.w");
      const auto g = model->grads().subspan(static_cast<std::size_t>(view.offset),
                                            static_cast<std::size_t>(view.size));
      for (std::int64_t h = 0; h < H; ++h)
        rows += std::all_of(g.begin() + h * V, g.begin() + (h + 1) * V,
                            [](float x) { return x == 0.0f; });
    }
    return rows;
  };
  // Half of 4 x 8 rows in expectation; a step mask silences a unit at all 24 steps with
  // probability 2^-24.
  CHECK(zero_rows(charnn::DropoutMask::segment) >= 8);
  CHECK(zero_rows(charnn::DropoutMask::step) == 0);
  CHECK(charnn::parse_dropout_mask("segment") == charnn::DropoutMask::segment);
  CHECK_THROWS_WITH(charnn::parse_dropout_mask("time"), Catch::Contains("dropout mask 'time'"));
}

TEST_CASE("the flat parameter buffer is covered by named views", "[model]") {
  auto model = tiny_model({"lstm", "elman"}, 0.0f, 4, 6);
  std::int64_t next = 0;
  for (const auto& v : model->views()) {
    CHECK(v.offset == next);
    std::int64_t numel = 1;
    for (auto d : v.dims) numel *= d;
    CHECK(numel == v.size);
    next += v.size;
  }
  CHECK(next == static_cast<std::int64_t>(model->params().size()));
  CHECK(model->grads().size() == model->params().size());
  CHECK(model->view("out.w").dims == std::vector<std::int64_t>{4, 6});
  CHECK(model->view("out.b").size == 6);
  CHECK(model->views().front().name.rfind("layer0.lstm.", 0) == 0);
  CHECK_THROWS_AS(model->view("nope"), charnn::error);
}

TEST_CASE("bad model configs and inputs are clear errors", "[model]") {
  ModelConfig c;
  c.cells = {"lstm"};
  c.hidden = 4;
  c.vocab_size = 5;
  c.dropout = 1.0f;
  CHECK_THROWS_WITH(Model(c, builtin_plugins()), Catch::Contains("dropout"));
  c.dropout = 0;
  c.cells = {"no_such_cell"};
  CHECK_THROWS_WITH(Model(c, builtin_plugins()), Catch::Contains("no_such_cell"));
  c.cells = {"lstm"};
  Model m(c, builtin_plugins());
  auto s = m.zero_state(1);
  std::vector<std::int32_t> bad = {7};
  std::vector<float> logits(5);
  CHECK_THROWS_WITH(m.step(bad, s, logits.data()), Catch::Contains("outside the vocabulary"));
}

TEST_CASE("the model prepares the step precision it is given and leaves automatic to the policy",
          "[model][prepared]") {
  auto m = tiny_model({"lstm"}, 0.0f);
  CHECK_THROWS_WITH(m->prepare_inference(charnn::StepPrecision::automatic),
                    Catch::Contains("prepare_step_path"));
  CHECK(m->prepare_inference(charnn::StepPrecision::f32) == "f32");
  m->release_inference();
}

TEST_CASE("a bf16 training step stays close to the f32 one; evaluation and f32 steps are unchanged",
          "[model][bf16]") {
  charnn::set_threads(1);
  // A vocabulary wide enough that the output layer's products round many terms.
  auto model = tiny_model({"lstm", "gru"}, 0.0f, 32, 300);
  const std::int64_t T = 6, N = 4;
  const auto in = random_ids(T * N, 300, 11), out = random_ids(T * N, 300, 12);
  auto run = [&]() {
    Model::State s = model->zero_state(N);
    const double loss = model->train_step(in, out, T, s, 1);
    return std::make_pair(loss, std::vector<float>(model->grads().begin(), model->grads().end()));
  };
  auto evaluate = [&]() {
    Model::State s = model->zero_state(N);
    return model->evaluate(in, out, T, s);
  };
  REQUIRE(model->set_train_precision(charnn::StepPrecision::f32) == "f32");
  const auto f32 = run();
  const double valid = evaluate();
  if (model->set_train_precision(charnn::StepPrecision::bf16) != "bf16") {
    WARN("no native bf16 on this CPU: not tested");
    return;
  }
  const auto bf16 = run();
  CHECK(bf16.first == Approx(f32.first).epsilon(1e-2));
  double err = 0, ref = 0;
  for (std::size_t i = 0; i < f32.second.size(); ++i) {
    err += std::pow(double(bf16.second[i]) - double(f32.second[i]), 2);
    ref += std::pow(double(f32.second[i]), 2);
  }
  INFO("relative L2 error of the bf16 gradient against f32 = " << std::sqrt(err / ref));
  CHECK(std::sqrt(err / ref) < 2e-2);
  CHECK(err > 0);
  // The output layer's weight gradient on its own.
  const auto& views = model->views();
  const auto w =
      std::find_if(views.begin(), views.end(), [](const auto& v) { return v.name == "out.w"; });
  REQUIRE(w != views.end());
  double werr = 0, wref = 0;
  for (std::size_t i = std::size_t(w->offset); i < std::size_t(w->offset + w->size); ++i) {
    werr += std::pow(double(bf16.second[i]) - double(f32.second[i]), 2);
    wref += std::pow(double(f32.second[i]), 2);
  }
  CHECK(std::sqrt(werr / wref) < 2e-2);
  CHECK(evaluate() == valid);  // validation always runs in f32
  REQUIRE(model->set_train_precision(charnn::StepPrecision::f32) == "f32");
  CHECK(run() == f32);  // and an f32 step after bf16 ones is bit for bit what it was
}

TEST_CASE("a large output layer steps on a bf16 copy when the cells step rounded",
          "[model][prepared]") {
  // 256 x 4,200: past the 2^18 multiply-adds per row where the copy pays.
  auto big = tiny_model({"gru"}, 0.0f, 256, 4200);
  const std::vector<std::int32_t> ids{17, 4000};
  auto step_logits = [&]() {
    Model::State s = big->zero_state(2);
    std::vector<float> logits(2 * 4200);
    big->step(ids, s, logits.data());
    return logits;
  };
  const auto f32 = step_logits();
  CHECK(big->prepare_inference(charnn::StepPrecision::f32) == "f32");
  CHECK_FALSE(big->output_step_bf16());
  if (big->prepare_inference(charnn::StepPrecision::bf16) != "bf16") {
    WARN("no native bf16 on this CPU: not tested");
    return;
  }
  CHECK(big->output_step_bf16());
  const auto bf16 = step_logits();
  double err = 0, ref = 0;
  for (std::size_t i = 0; i < f32.size(); ++i) {
    err += std::pow(double(bf16[i]) - double(f32[i]), 2);
    ref += std::pow(double(f32[i]), 2);
  }
  CHECK(err > 0);
  CHECK(std::sqrt(err / ref) < 2e-2);
  big->release_inference();
  CHECK_FALSE(big->output_step_bf16());
  CHECK(step_logits() == f32);
  // A small output layer keeps f32 whatever the cells do.
  auto small = tiny_model({"gru"}, 0.0f);
  REQUIRE(small->prepare_inference(charnn::StepPrecision::bf16) == "bf16");
  CHECK_FALSE(small->output_step_bf16());
}
