// The training plan (train_plan.hpp): what --hidden/--dropout/--eval-every/--eval-units auto
// choose from the corpus size, the budget and the measured speed. A pure function, so the
// speeds here are made up: a width's speed falls with its parameter count, as on a real CPU.
#include <catch2/catch.hpp>

#include <charnn/train_plan.hpp>

#include <cmath>
#include <map>
#include <vector>

using namespace charnn;

namespace {

// A 2-layer LSTM over 100 symbols, and a machine that trains `work` parameter-units per second.
WidthCost lstm_cost(std::int64_t H, double work) {
  const std::int64_t V = 100;
  const std::int64_t params = 4 * H * (V + H + 1) + 4 * H * (2 * H + 1) + (H + 1) * V;
  return {.parameters = params,
          .train_units_per_second = work / static_cast<double>(params),
          .eval_units_per_second = 3 * work / static_cast<double>(params)};
}

PlanInput auto_everything(std::int64_t train_units, double seconds) {
  return {.train_units = train_units,
          .valid_units = train_units / 9,
          .units_per_iteration = 32 * 64,
          .time_limit = seconds,
          .choose_hidden = true,
          .choose_dropout = true,
          .choose_eval_every = true,
          .choose_eval_units = true};
}

// --lr auto for a 2-layer GRU on War and Peace: 82 units, under the GRU's declared limit.
PlanInput gru_on_warpeace(PlanInput in) {
  in.choose_lr = true;
  in.vocab_size = 82;
  in.max_lr = 2.5e-3;
  in.max_lr_cell = "gru";
  return in;
}

// Thai for 30 minutes: 326,991 training units, a 2x512 GRU over 707 units (3.8M parameters)
// at 35.5k units/s, which would see the text 195 times (exposure 2,278).
constexpr std::int64_t kThaiUnits = 326'991, kThaiParameters = 3'812'000;
WidthCost thai_cost(std::int64_t H) {
  if (H == 512) return {.parameters = kThaiParameters, .train_units_per_second = 35500};
  return lstm_cost(H, 1e11);
}
PlanInput thai_gru_30_minutes() {
  PlanInput in = auto_everything(kThaiUnits, 1800);
  in.dropout_exposure = 8;
  in.dropout_exposure_cell = "gru";
  return in;
}

}  // namespace

TEST_CASE("planned dropout: none below kDropoutExposure, 0.1 per doubling, at most 0.5", "[plan]") {
  const double k = kDropoutExposure;
  CHECK(memorisation(4, 1e6, 2e6) == Approx(2));
  CHECK(memorisation(4, 1e6, 0) == 0);
  CHECK(planned_dropout(0) == 0.0f);
  CHECK(planned_dropout(0.99 * k) == 0.0f);
  CHECK(planned_dropout(k) == Approx(0.1f));
  CHECK(planned_dropout(2 * k) == Approx(0.2f));
  CHECK(planned_dropout(2.83 * k) == Approx(0.25f));  // 0.2501, to steps of 0.05
  CHECK(planned_dropout(4 * k) == Approx(0.3f));
  CHECK(planned_dropout(9.2 * k) == Approx(0.4f));  // Thai, 2x512, 30 minutes: 0.42
  CHECK(planned_dropout(16 * k) == Approx(0.5f));
  CHECK(planned_dropout(1e3 * k) == Approx(0.5f));
}

TEST_CASE("a cell's declared dropout start moves where --dropout auto begins", "[plan]") {
  CHECK(planned_dropout(7.5, 8) == 0.0f);           // War and Peace, GRU, 10 minutes
  CHECK(planned_dropout(14.5, 8) == Approx(0.2f));  // the C headers: 0.186, to steps of 0.05
  CHECK(planned_dropout(682, 8) == Approx(0.5f));   // Thai
  CHECK(planned_dropout(14.5) == 0.0f);             // the LSTM's start, 128
  const auto cost = [](std::int64_t H) { return lstm_cost(H, 1e11); };
  PlanInput in = auto_everything(1'000'000, 600);
  TrainPlan p = plan_training(in, cost);
  CHECK_THAT(p.why, Catch::Contains(", under 128)"));
  in.dropout_exposure = 8;
  in.dropout_exposure_cell = "gru";
  p = plan_training(in, cost);
  CHECK(p.dropout == planned_dropout(p.exposure, 8));
  CHECK_THAT(p.why, Catch::Contains("; the gru cell starts dropout at 8)"));
}

TEST_CASE("the decoupled weight decay takes 0.1 of --dropout auto, once with weight drop",
          "[plan]") {
  CHECK(planned_dropout(8.3, 8, false, true) == 0.0f);            // War and Peace, 10 minutes
  CHECK(planned_dropout(16.2, 8, false, true) == Approx(0.1f));   // the C headers: 0.2 without
  CHECK(planned_dropout(22.6, 8, false, true) == Approx(0.15f));  // ru: 0.25 without
  CHECK(planned_dropout(200, 8, false, true) == Approx(0.4f));
  CHECK(planned_dropout(257, 8, true, true) == Approx(0.4f));  // as with weight drop alone
  CHECK(planned_dropout(7.9, 8, false, true) == 0.0f);

  const auto cost = [](std::int64_t H) { return lstm_cost(H, 1e11); };
  PlanInput in = auto_everything(1'000'000, 600);
  in.dropout_exposure = 8;
  in.dropout_exposure_cell = "gru";
  const TrainPlan without = plan_training(in, cost);
  in.decays_weights = true;
  const TrainPlan with = plan_training(in, cost);
  REQUIRE(with.exposure > 16);
  REQUIRE(with.weight_drop == 0);
  CHECK(with.dropout == Approx(without.dropout - 0.1f));
  CHECK_THAT(with.why, Catch::Contains("starts dropout at 8; the weight decay takes 0.1)"));
  CHECK_THAT(without.why, !Catch::Contains("weight decay"));
}

TEST_CASE("--warmup auto: 100 up to 164 units, 100 more per doubling of the vocabulary beyond",
          "[plan]") {
  CHECK(planned_warmup(1) == 100);
  CHECK(planned_warmup(82) == 100);   // War and Peace
  CHECK(planned_warmup(165) == 100);  // the Russian fortunes: as before
  CHECK(planned_warmup(246) == 200);
  CHECK(planned_warmup(707) == 300);   // Thai: 100 collapsed to the unigram level, 300 never
  CHECK(planned_warmup(6173) == 600);  // the Chinese fortunes
  std::int64_t last = 0;
  for (std::int64_t v = 2; v < 100000; v = v * 3 / 2 + 1) {
    CHECK(planned_warmup(v) >= last);
    last = planned_warmup(v);
  }
}

TEST_CASE("--lr auto: 2e-2 up to 128 units, lower for larger vocabularies", "[plan]") {
  CHECK(planned_lr(82) == 2e-2);
  CHECK(planned_lr(128) == 2e-2);
  CHECK(planned_lr(707) == Approx(5.1e-3));  // Thai graphemes: 1e-2 stalled, 5e-3 learned
  CHECK(planned_lr(6173) == Approx(2e-3));   // Chinese: 2e-3 beat 5e-3 and 2e-2
  double last = 1;
  for (std::int64_t v : {50, 128, 200, 500, 1000, 3000, 10000, 100000}) {
    CHECK(planned_lr(v) <= last);
    CHECK(planned_lr(v) >= 2e-3);
    last = planned_lr(v);
  }
  PlanInput in = auto_everything(1'000'000, 600);
  in.vocab_size = 707;
  in.choose_lr = true;
  const TrainPlan p = plan_training(in, [](std::int64_t H) { return lstm_cost(H, 1e11); });
  CHECK(p.lr == planned_lr(707));
  CHECK_THAT(p.why, Catch::Contains("lr 0.0051 (707-unit vocabulary)"));
  in.choose_lr = false;
  in.lr = 0.03;
  CHECK(plan_training(in, [](std::int64_t H) { return lstm_cost(H, 1e11); }).lr == 0.03);
}

TEST_CASE("--lr auto keeps to the lowest limit the model's cells declare", "[plan]") {
  const auto cost = [](std::int64_t H) { return lstm_cost(H, 1e11); };
  PlanInput in = gru_on_warpeace(auto_everything(1'000'000, 600));
  TrainPlan p = plan_training(in, cost);
  CHECK(p.lr == 2.5e-3);
  CHECK_THAT(p.why,
             Catch::Contains("lr 0.0025 (82-unit vocabulary: 0.02, above the gru cell's limit)"));
  in.vocab_size = 6173;  // the vocabulary's rate is already lower: the limit says nothing
  p = plan_training(in, cost);
  CHECK(p.lr == Approx(2e-3));
  CHECK_THAT(p.why, Catch::Contains("lr 0.002 (6,173-unit vocabulary)"));
  in.choose_lr = false;  // an explicit rate wins over the limit
  in.lr = 0.02;
  CHECK(plan_training(in, cost).lr == 0.02);
}

TEST_CASE("--lr auto starts a long run lower: x (20,000 / steps)^(1/3) beyond 20,000 steps",
          "[plan]") {
  CHECK(long_run_lr(2.5e-3, 0) == 2.5e-3);      // no planned length: nothing to go by
  CHECK(long_run_lr(2.5e-3, 12000) == 2.5e-3);  // War and Peace, 10 minutes: the full rate
  CHECK(long_run_lr(2.5e-3, kLongRunSteps) == 2.5e-3);
  CHECK(long_run_lr(2.5e-3, 8 * kLongRunSteps) == Approx(1.3e-3));  // 1.25e-3, two digits
  CHECK(long_run_lr(2.5e-3, 121000) == Approx(1.4e-3));  // War and Peace, 2 hours: 1.37e-3
  CHECK(long_run_lr(2e-2, 1e9) == Approx(5.4e-4));
  CHECK(long_run_lr(2.5e-3, 150000) == 0.0013);  // exactly the literal: config.json says 0.0013
  CHECK(planned_lr(707) == 0.0051);
  double last = 1;
  for (double steps = 1000; steps < 1e8; steps *= 1.7) {
    CHECK(long_run_lr(2.5e-3, steps) <= last);
    last = long_run_lr(2.5e-3, steps);
  }

  // 2 hours of War and Peace at 34k units/s: 121,000 steps of 32 x 64 units.
  const auto cost = [](std::int64_t H) {
    WidthCost c = lstm_cost(H, 1e11);
    c.train_units_per_second = 34400;
    return c;
  };
  PlanInput in = gru_on_warpeace(auto_everything(2'876'593, 7200));
  TrainPlan p = plan_training(in, cost);
  CHECK(p.lr == Approx(1.4e-3));
  CHECK_THAT(p.why, Catch::Contains("lr 0.0014 (82-unit vocabulary: 0.02, above the gru cell's "
                                    "limit; 0.0025 x 0.56 for 121k planned steps)"));
  in.time_limit = 600;  // 10 minutes: 10,000 steps
  p = plan_training(in, cost);
  CHECK(p.lr == 2.5e-3);
  CHECK_THAT(p.why, Catch::Contains("lr 0.0025 (82-unit vocabulary: 0.02, above the gru cell's "
                                    "limit), "));
  in.time_limit = 0;  // no planned length
  p = plan_training(in, cost);
  CHECK(p.lr == 2.5e-3);
  in.time_limit = 7200;
  in.choose_lr = false;  // an explicit rate wins
  in.lr = 2.5e-3;
  CHECK(plan_training(in, cost).lr == 2.5e-3);
}

TEST_CASE("--hidden auto takes the widest model the budget trains on enough text", "[plan]") {
  std::vector<std::int64_t> asked;
  const double slow = 1e10;  // units/s x parameters: 2,900 units/s at 512 wide
  auto cost = [&](std::int64_t H) {
    asked.push_back(H);
    return lstm_cost(H, slow);
  };

  SECTION("a long budget keeps the classic 512 and asks for nothing narrower") {
    const TrainPlan p = plan_training(auto_everything(3'000'000, 3600), cost);
    CHECK(p.hidden == 512);
    CHECK(asked == std::vector<std::int64_t>{512});
    CHECK(p.planned_units == Approx(3600 * lstm_cost(512, slow).train_units_per_second));
  }
  SECTION("a short budget on a slow machine makes the model narrower, widest first") {
    const TrainPlan p = plan_training(auto_everything(3'000'000, 600), cost);
    CHECK(p.hidden < 512);
    CHECK(asked.front() == 512);
    CHECK(asked.back() == p.hidden);
    const WidthCost c = lstm_cost(p.hidden, slow);
    CHECK(600 * c.train_units_per_second >= kUnitsPerParameter * c.parameters);
    // and the next wider one would not have had enough
    const auto& w = plan_widths();
    const auto wider = *(std::find(w.begin(), w.end(), p.hidden) - 1);
    const WidthCost cw = lstm_cost(wider, slow);
    CHECK(600 * cw.train_units_per_second < kUnitsPerParameter * cw.parameters);
    CHECK_THAT(p.why, Catch::Contains("hidden " + std::to_string(p.hidden)));
  }
  SECTION("a faster machine gets a wider model for the same budget") {
    const TrainPlan slow_plan = plan_training(auto_everything(3'000'000, 600), cost);
    const TrainPlan fast_plan = plan_training(
        auto_everything(3'000'000, 600), [&](std::int64_t H) { return lstm_cost(H, 5 * slow); });
    CHECK(fast_plan.hidden > slow_plan.hidden);
  }
  SECTION("an iteration budget needs no speed") {
    PlanInput in = auto_everything(3'000'000, 0);
    in.max_iters = 100;  // 204,800 units
    const TrainPlan p = plan_training(in, [&](std::int64_t H) {
      WidthCost c = lstm_cost(H, slow);
      c.train_units_per_second = c.eval_units_per_second = 0;  // not measured
      return c;
    });
    CHECK(p.planned_units == Approx(100 * 32 * 64));
    CHECK(p.hidden == plan_widths().back());  // 204,800 units train no wide model
  }
  SECTION("a given width is kept and only costed") {
    PlanInput in = auto_everything(3'000'000, 600);
    in.choose_hidden = false;
    in.hidden = 64;
    const TrainPlan p = plan_training(in, cost);
    CHECK(p.hidden == 64);
    CHECK(asked == std::vector<std::int64_t>{64});
  }
}

TEST_CASE("--max-exposure ends a run before its budget when it would learn the text by heart",
          "[plan]") {
  CHECK(planned_max_exposure(8, false) == 256);                  // the GRU's declared dropout start
  CHECK(planned_max_exposure(8) == 1024);                        // where weight drop takes part
  CHECK(planned_max_exposure(kDropoutExposure, false) == 4096);  // the LSTM's
  CHECK(planned_max_exposure() == 16384);
  CHECK(planned_dropout(planned_max_exposure(8, false) / 2, 8) == Approx(kMaxDropout));
  CHECK(planned_dropout(planned_max_exposure(8, false) / 4, 8) < kMaxDropout);

  const std::int64_t U = kThaiUnits, P = kThaiParameters;
  std::vector<std::int64_t> asked;
  const auto thai = [&](std::int64_t H) {
    asked.push_back(H);
    return thai_cost(H);
  };
  PlanInput in = thai_gru_30_minutes();
  TrainPlan p = plan_training(in, thai);
  CHECK(p.max_iters == 0);  // no limit given
  CHECK(p.exposure == Approx(2278).epsilon(0.01));

  in.max_exposure = planned_max_exposure(8, false);
  asked.clear();
  p = plan_training(in, thai);
  // The width is judged on the budget: the limit leaves 512 under 2 units per parameter, but a
  // narrower model at the same exposure ended worse.
  CHECK(p.hidden == 512);
  CHECK(asked == std::vector<std::int64_t>{512});
  CHECK(p.exposure == Approx(256));
  const double units = 256 * U * static_cast<double>(U) / P;
  CHECK(p.planned_units == Approx(units));
  CHECK(p.max_iters == static_cast<std::int64_t>(std::ceil(units / (32 * 64))));
  CHECK(p.dropout == Approx(0.5f));
  // Three times as often as a run its budget ends: its best comes early.
  CHECK(p.eval_every == static_cast<std::int64_t>(std::ceil(units / (32 * 64) / 36)));
  CHECK_THAT(p.why, Catch::StartsWith("7.2M units planned (22 passes over 327k): "));
  CHECK_THAT(p.why, Catch::Contains("hidden 512 (the widest), stop at exposure 256 (3m22s of the "
                                    "30m00s at 35.5k units/s measured; a longer run learns the "
                                    "text by heart), "));

  SECTION("auto chooses the limit from the cells' dropout start when only the time stops the run") {
    PlanInput chosen = in;
    chosen.max_exposure = 0;
    chosen.choose_max_exposure = true;
    const TrainPlan q = plan_training(chosen, thai);
    CHECK(q.max_exposure == 256);
    CHECK(q.max_iters == p.max_iters);
    CHECK(q.why == p.why);
    chosen.dropout_exposure = 0;  // no cell declares one: kDropoutExposure's 4,096, never reached
    CHECK(plan_training(chosen, thai).max_exposure ==
          planned_max_exposure(kDropoutExposure, false));
    CHECK(plan_training(chosen, thai).max_iters == 0);
    chosen.dropout_exposure = 8;
    chosen.epochs = 200;  // a length the user chose: no limit
    CHECK(plan_training(chosen, thai).max_exposure == 0);
    CHECK(plan_training(chosen, thai).max_iters == 0);
  }
  SECTION("a budget that ends first is not limited") {
    in.time_limit = 180;  // 3 minutes: exposure 228
    p = plan_training(in, thai);
    CHECK(p.max_iters == 0);
    CHECK(p.exposure < 256);
    CHECK_THAT(p.why, !Catch::Contains("stop at exposure"));
  }
  SECTION("with epochs it says how much of them") {
    in.time_limit = 0;
    in.epochs = 200;
    p = plan_training(in, thai);
    CHECK(p.planned_units == Approx(units));
    CHECK_THAT(p.why, Catch::Contains("stop at exposure 256 (7.2M of the 65.4M units; "));
  }
}

TEST_CASE(
    "--weight-drop auto: 0.15 past 32 times the dropout start, with less dropout and a "
    "later limit",
    "[plan]") {
  CHECK(planned_weight_drop(256, 8) == 0);
  CHECK(planned_weight_drop(257, 8) == Approx(kWeightDrop));
  CHECK(planned_weight_drop(4096) == 0);  // the LSTM's start, 128
  CHECK(planned_weight_drop(4097) == Approx(kWeightDrop));
  CHECK(planned_dropout(256, 8, true) == Approx(0.5f));  // not yet past it
  CHECK(planned_dropout(257, 8, true) == Approx(0.4f));
  CHECK(planned_dropout(257, 8) == Approx(0.5f));  // without weight drop
  CHECK(planned_dropout(200, 8, true) == Approx(0.5f));

  // Thai as above: a 2x512 GRU that 30 minutes would take to exposure 2,278.
  const std::int64_t U = kThaiUnits, P = kThaiParameters;
  const auto thai = thai_cost;
  PlanInput in = thai_gru_30_minutes();
  in.choose_max_exposure = true;
  in.choose_weight_drop = true;
  TrainPlan p = plan_training(in, thai);
  CHECK(p.max_exposure == 1024);
  CHECK(p.exposure == Approx(1024));
  CHECK(p.max_iters ==
        static_cast<std::int64_t>(std::ceil(1024.0 * U * static_cast<double>(U) / P / (32 * 64))));
  CHECK(p.weight_drop == Approx(kWeightDrop));
  CHECK(p.dropout == Approx(0.4f));
  CHECK_THAT(p.why, Catch::Contains("dropout 0.4 ("));
  CHECK_THAT(p.why, Catch::Contains(", weight drop 0.15 (exposure over 256: it takes 0.1 of the "
                                    "dropout), "));
  CHECK_THAT(p.why, Catch::Contains("stop at exposure 1024 ("));

  const auto iterations = [](const TrainPlan& q) { return q.planned_units / (32 * 64); };
  CHECK(p.eval_every == static_cast<std::int64_t>(std::ceil(iterations(p) / 36)));
  SECTION("a budget between the two limits runs to its end, with weight drop") {
    in.time_limit = 360;  // exposure 456
    p = plan_training(in, thai);
    CHECK(p.max_iters == 0);
    CHECK(p.exposure == Approx(456).epsilon(0.01));
    CHECK(p.weight_drop == Approx(kWeightDrop));
    CHECK(p.dropout == Approx(0.4f));
    // Past 32 times the start it learns the text by heart too: its best comes early.
    CHECK(p.eval_every == static_cast<std::int64_t>(std::ceil(iterations(p) / 36)));
  }
  SECTION("a budget under 32 times the start: no weight drop, dropout 0.5") {
    in.time_limit = 180;  // exposure 228
    p = plan_training(in, thai);
    CHECK(p.weight_drop == 0);
    CHECK(p.dropout == Approx(0.5f));
    CHECK_THAT(p.why, !Catch::Contains("weight drop"));
    CHECK(p.eval_every == static_cast<std::int64_t>(std::ceil(iterations(p) / 12)));
  }
  // The plan before weight drop: dropout 0.5 alone, stopped at 256.
  const auto dropout_alone = [](const TrainPlan& q) {
    CHECK(q.weight_drop == 0);
    CHECK(q.max_exposure == 256);
    CHECK(q.dropout == Approx(0.5f));
  };
  SECTION("cells without w_h cannot drop weights: the plan before it") {
    in.cells_drop_weights = false;
    dropout_alone(plan_training(in, thai));
  }
  SECTION("--weight-drop 0 given: the plan before it") {
    in.choose_weight_drop = false;
    dropout_alone(plan_training(in, thai));
  }
  SECTION("a given weight drop raises the limit and takes its share of --dropout auto") {
    in.choose_weight_drop = false;
    in.weight_drop = 0.3;
    p = plan_training(in, thai);
    CHECK(p.weight_drop == Approx(0.3));
    CHECK(p.max_exposure == 1024);
    CHECK(p.dropout == Approx(0.4f));
    CHECK_THAT(p.why, !Catch::Contains("weight drop"));  // the user's, not the plan's
  }
  SECTION("a given dropout is kept, and the reason does not claim a share of it") {
    in.choose_dropout = false;
    in.dropout = 0.2f;
    p = plan_training(in, thai);
    CHECK(p.dropout == 0.2f);
    CHECK(p.weight_drop == Approx(kWeightDrop));
    CHECK_THAT(p.why, Catch::Contains("weight drop 0.15 (exposure over 256)"));
  }
}

TEST_CASE("--dropout auto follows how much the run can memorise", "[plan]") {
  auto fast = [](std::int64_t H) { return lstm_cost(H, 1e12); };  // every width is affordable
  SECTION("a big corpus seen a few times: no dropout") {
    const TrainPlan p = plan_training(auto_everything(50'000'000, 600),
                                      [](std::int64_t H) { return lstm_cost(H, 1e11); });
    CHECK(p.exposure < kDropoutExposure);
    CHECK(p.dropout == 0.0f);
    CHECK_THAT(p.why, Catch::Contains(", under "));
  }
  SECTION("a small corpus seen many times by a big model: dropout") {
    const TrainPlan p = plan_training(auto_everything(300'000, 1800), fast);
    CHECK(p.exposure > 16 * kDropoutExposure);
    CHECK(p.dropout == Approx(kMaxDropout));
    CHECK_THAT(p.why, Catch::Contains("dropout 0.5 ("));
  }
  SECTION("epochs plan the passes directly") {
    PlanInput in = auto_everything(1'000'000, 0);
    in.epochs = 40;
    const TrainPlan p = plan_training(in, fast);
    CHECK(p.planned_passes == Approx(40));
    CHECK(p.hidden == 512);
    CHECK(p.exposure == Approx(40 * lstm_cost(512, 1).parameters / 1e6));
    CHECK(p.dropout == planned_dropout(p.exposure));
    CHECK(p.dropout > 0.0f);
  }
  SECTION("the first stop condition reached decides") {
    PlanInput in = auto_everything(1'000'000, 1800);
    in.max_iters = 10;  // 20,480 units, far fewer than 30 minutes would see
    const TrainPlan p = plan_training(in, fast);
    CHECK(p.planned_units == Approx(10 * 32 * 64));
    CHECK(p.dropout == 0.0f);
  }
  SECTION("a given dropout is kept") {
    PlanInput in = auto_everything(300'000, 1800);
    in.choose_dropout = false;
    in.dropout = 0.05f;
    CHECK(plan_training(in, fast).dropout == 0.05f);
  }
}

TEST_CASE("validation: about 12 times per run, on a slice that costs about 5%", "[plan]") {
  auto cost = [](std::int64_t H) { return lstm_cost(H, 1e11); };
  const TrainPlan p = plan_training(auto_everything(3'000'000, 600), cost);
  const double iterations = p.planned_units / (32 * 64);
  CHECK(p.eval_every == static_cast<std::int64_t>(std::ceil(iterations / 12)));
  CHECK(p.eval_units >= 20000);
  CHECK(p.eval_units <= 100000);
  CHECK(p.eval_units % 1000 == 0);
  // 12 validations at the measured validation speed: about 5% of the budget (or the floor)
  const WidthCost c = cost(p.hidden);
  const double share = 12 * p.eval_units / c.eval_units_per_second / 600;
  CHECK((share <= 0.055 || p.eval_units == 20000));

  SECTION("with a weight average each validation scores two models, on half the slice") {
    PlanInput in = auto_everything(3'000'000, 600);
    in.models_scored = 2;
    const TrainPlan two = plan_training(in, cost);
    const double both = 2 * 12 * two.eval_units / c.eval_units_per_second / 600;
    CHECK((both <= 0.055 || two.eval_units == 20000));
    CHECK(two.eval_units <= p.eval_units);
  }
  SECTION("a validation split smaller than the slice is scored whole") {
    PlanInput in = auto_everything(90'000, 600);  // 10,000 validation units
    const TrainPlan small = plan_training(in, cost);
    CHECK(small.eval_units == 0);
    CHECK_THAT(small.why, Catch::Contains("on the whole split"));
  }
  SECTION("a short run still validates no more often than every 10 iterations") {
    PlanInput in = auto_everything(3'000'000, 0);
    in.max_iters = 30;
    CHECK(plan_training(in, cost).eval_every == 10);
  }
  SECTION("nothing left on auto: no plan text") {
    PlanInput in;
    in.train_units = 1000;
    in.units_per_iteration = 64;
    in.max_iters = 10;
    in.hidden = 32;
    const TrainPlan none =
        plan_training(in, [](std::int64_t) { return WidthCost{.parameters = 1}; });
    CHECK(none.why.empty());
    CHECK(none.hidden == 32);
  }
}

TEST_CASE("the plan says what it measured and chose", "[plan]") {
  const TrainPlan p = plan_training(auto_everything(2'300'000, 600),
                                    [](std::int64_t H) { return lstm_cost(H, 1e10); });
  CHECK_THAT(p.why, Catch::Contains("units planned"));
  CHECK_THAT(p.why, Catch::Contains("passes over 2.3M"));
  CHECK_THAT(p.why, Catch::Contains("10m00s at"));
  CHECK_THAT(p.why, Catch::Contains("units/s measured"));
  CHECK_THAT(p.why, Catch::Contains("validation every"));
  CHECK_THAT(p.why, Catch::Contains("units spread over the split"));
  CHECK(p.why.find('\n') == std::string::npos);  // one checkpoint header line
}
