// The training plan. See train_plan.hpp; docs/training.md has the measurements behind the rules.
#include "charnn/train_plan.hpp"

#include "train_banner.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace charnn {

namespace {

// About this many periodic validations per run: enough to pick a good best.ckpt and to see the
// curve, few enough to cost little.
constexpr double kValidations = 12;
// A run that learns its text by heart (the exposure limit ends it, or its exposure passes 32
// times the dropout start, where weight drop begins) validates this many times as often: such
// runs on the small corpora found their best a sixth to a third of the way in, at the second or
// third of 12 validations, and every 200 iterations (about 36 in the run) found a lower best on
// all five with one seed; as this rule, 2 of the 3 it applied to with another (docs/training.md).
// Their split is small, so it costs little.
constexpr double kMemorisingValidations = 3;
// All periodic validations together cost about this fraction of the training time.
constexpr double kValidationShare = 0.05;
constexpr std::int64_t kMinEvalUnits = 20000, kMaxEvalUnits = 100000;
// Forward-only validation against a full training step, when neither was measured.
constexpr double kEvalSpeedup = 3;

using detail::rate_text;
using detail::thousands;

std::string units_text(double units) {
  if (units >= 1e6) return detail::fixed(units / 1e6, 1) + "M";
  if (units >= 1e4) return detail::fixed(units / 1e3, 0) + "k";
  return thousands(static_cast<std::int64_t>(units));
}

// Training units the run will see with a model of this cost before the stop conditions other
// than the exposure: the first one reached. Infinite when none can be planned (no stop
// condition, or a time budget at an unmeasured speed).
double budget_units(const PlanInput& in, const WidthCost& cost) {
  double units = std::numeric_limits<double>::infinity();
  if (in.max_iters > 0)
    units = std::min(units, static_cast<double>(in.max_iters * in.units_per_iteration));
  if (in.epochs > 0) units = std::min(units, static_cast<double>(in.epochs * in.train_units));
  if (in.time_limit > 0 && cost.train_units_per_second > 0)
    units = std::min(units, in.time_limit * cost.train_units_per_second);
  return units;
}

// The training units at which a model with this many parameters reaches in.max_exposure
// (infinite without one): passes x parameters / units = exposure.
double exposure_units(const PlanInput& in, std::int64_t parameters) {
  if (!(in.max_exposure > 0) || in.train_units <= 0 || parameters <= 0)
    return std::numeric_limits<double>::infinity();
  const double units = static_cast<double>(in.train_units);
  return in.max_exposure * units * units / static_cast<double>(parameters);
}

// The units the run will see: the first stop condition reached, the exposure included; 0 when
// none can be planned.
double planned_units(const PlanInput& in, const WidthCost& cost) {
  const double units = std::min(budget_units(in, cost), exposure_units(in, cost.parameters));
  return std::isfinite(units) ? units : 0;
}

// Whether the time budget, at this width's measured speed, is what ends a run of `units`.
bool time_ends(const PlanInput& in, const WidthCost& cost, double units) {
  return in.time_limit > 0 && cost.train_units_per_second > 0 &&
         units >= in.time_limit * cost.train_units_per_second * 0.999;
}

// Where --dropout auto starts: the lowest start the model's cells declare, or kDropoutExposure.
double dropout_start(const PlanInput& in) {
  return in.dropout_exposure > 0 ? in.dropout_exposure : kDropoutExposure;
}

// Two significant digits, so that the banner and config.json show 5.1e-3, not 5.0887...e-3.
// Dividing by an exact power of ten keeps 0.0013 from becoming 0.0013000000000000002.
double two_digits(double v) {
  if (!(v > 0)) return v;
  const double e = std::floor(std::log10(v)) - 1;
  const double scale = std::pow(10.0, std::fabs(e));
  return e >= 0 ? std::round(v / scale) * scale : std::round(v * scale) / scale;
}

// Whether weight drop takes 0.1 of --dropout auto: it is on, and past where the plan starts it.
bool weight_drop_takes_share(double exposure, double start, bool weight_drop) {
  return weight_drop && planned_weight_drop(exposure, start) > 0;
}

}  // namespace

float planned_dropout(double exposure, double start, bool weight_drop, bool weight_decay) {
  if (!(exposure >= start)) return 0.0f;
  double d = std::min(kMaxDropout, 0.1 * (std::log2(exposure / start) + 1));
  if (weight_drop_takes_share(exposure, start, weight_drop) || weight_decay)
    d = std::max(0.0, d - 0.1);
  return static_cast<float>(std::round(d * 20) / 20);  // steps of 0.05
}

namespace {

// Past this exposure a run learns its text by heart: weight drop begins and validation thickens.
double memorising_exposure(double start) {
  return start * std::exp2(kWeightDropDoublings);
}

}  // namespace

double planned_weight_drop(double exposure, double start) {
  return exposure > memorising_exposure(start) ? kWeightDrop : 0;
}

double planned_max_exposure(double start, bool weight_drop) {
  return start * std::exp2(weight_drop ? kStopDoublings : kStopDoublings - 2);
}

std::int64_t planned_warmup(std::int64_t vocab_size) {
  constexpr double kUnits = 82;
  const double doublings = std::round(std::log2(static_cast<double>(vocab_size) / kUnits));
  return 100 * std::max<std::int64_t>(1, static_cast<std::int64_t>(doublings));
}

double planned_lr(std::int64_t vocab_size) {
  constexpr double kPeak = 2e-2, kFloor = 2e-3, kUnits = 128;
  if (vocab_size <= kUnits) return kPeak;
  const double lr = kPeak * std::pow(kUnits / static_cast<double>(vocab_size), 0.8);
  return std::max(kFloor, two_digits(lr));
}

double long_run_lr(double lr, double steps) {
  if (!(steps > kLongRunSteps)) return lr;
  return two_digits(lr * std::pow(kLongRunSteps / steps, kLongRunPower));
}

TrainPlan plan_training(const PlanInput& given,
                        const std::function<WidthCost(std::int64_t hidden)>& cost) {
  TrainPlan plan;
  std::vector<std::string> reasons;
  PlanInput in = given;
  // Whether the run may drop its recurrent weights: the limit is higher where it does.
  const bool drops_weights = in.choose_weight_drop ? in.cells_drop_weights : in.weight_drop > 0;
  if (in.choose_max_exposure)  // explicit lengths are the user's to choose
    in.max_exposure = in.time_limit > 0 && in.max_iters == 0 && in.epochs == 0
                          ? planned_max_exposure(dropout_start(in), drops_weights)
                          : 0;
  plan.max_exposure = in.max_exposure;

  plan.hidden = in.hidden;
  WidthCost chosen;
  if (in.choose_hidden) {
    const auto& widths = plan_widths();
    for (std::size_t i = 0; i < widths.size(); ++i) {
      const WidthCost c = cost(widths[i]);
      // Judged on the budget, not on where the exposure ends the run: at the same exposure a
      // narrower model sees the text more often, and ended worse (Thai at 200: 2x384 2.7621,
      // 2x512 2.7491).
      const double units = budget_units(in, c);
      plan.hidden = widths[i];
      chosen = c;
      // An unplannable run (no budget, or no speed) keeps the widest.
      if (!std::isfinite(units) || units >= kUnitsPerParameter * static_cast<double>(c.parameters))
        break;
    }
  } else {
    chosen = cost(in.hidden);
  }
  plan.planned_units = planned_units(in, chosen);
  const double budget = budget_units(in, chosen);
  if (in.choose_hidden)
    reasons.push_back("hidden " + std::to_string(plan.hidden) +
                      (plan.hidden == plan_widths().front()
                           ? std::string(" (the widest)")
                           : " (" +
                                 detail::fixed(budget / static_cast<double>(chosen.parameters), 1) +
                                 " units per parameter; a wider model would see under " +
                                 detail::fixed(kUnitsPerParameter, 0) + ")"));
  if (plan.planned_units > 0 && plan.planned_units < budget && in.units_per_iteration > 0) {
    // The exposure ends the run first: as an iteration count, which the trainer stops at.
    plan.max_iters = static_cast<std::int64_t>(
        std::ceil(plan.planned_units / static_cast<double>(in.units_per_iteration)));
    // "stop at exposure 700 (9m12s of the 30m00s at 35.5k units/s measured; ...)"
    std::string of;
    if (time_ends(in, chosen, budget))
      of = format_duration(plan.planned_units / chosen.train_units_per_second) + " of the " +
           format_duration(in.time_limit) + " at " + rate_text(chosen.train_units_per_second) +
           " units/s measured";
    else if (std::isfinite(budget))
      of = units_text(plan.planned_units) + " of the " + units_text(budget) + " units";
    reasons.push_back("stop at exposure " + detail::fixed(in.max_exposure, 0) + " (" +
                      (of.empty() ? std::string() : of + "; ") +
                      "a longer run learns the text by heart)");
  }
  const double iterations = in.units_per_iteration > 0
                                ? plan.planned_units / static_cast<double>(in.units_per_iteration)
                                : 0;
  plan.planned_passes = in.train_units > 0 && plan.planned_units > 0
                            ? plan.planned_units / static_cast<double>(in.train_units)
                            : 0;

  plan.exposure = memorisation(plan.planned_passes, static_cast<double>(chosen.parameters),
                               static_cast<double>(in.train_units));
  const double start = dropout_start(in);
  plan.weight_drop = in.weight_drop;
  if (in.choose_weight_drop)
    plan.weight_drop = in.cells_drop_weights ? planned_weight_drop(plan.exposure, start) : 0;
  plan.dropout = in.dropout;
  if (in.choose_dropout) {
    const bool declared = in.dropout_exposure > 0;
    plan.dropout = planned_dropout(plan.exposure, start, plan.weight_drop > 0, in.decays_weights);
    const double per_unit = static_cast<double>(chosen.parameters) /
                            static_cast<double>(std::max<std::int64_t>(1, in.train_units));
    // "... = 14.5; the gru cell starts dropout at 8)" or "... = 8.4, under 128)"
    std::string exposure = detail::fixed(plan.exposure, 1);
    if (declared)
      exposure += "; the " + in.dropout_exposure_cell + " cell starts dropout at " +
                  detail::fixed(start, 0);
    else if (plan.exposure < start)
      exposure += ", under " + detail::fixed(start, 0);
    // Where weight drop takes the 0.1, its own reason says so.
    if (in.decays_weights && plan.exposure >= start &&
        !weight_drop_takes_share(plan.exposure, start, plan.weight_drop > 0))
      exposure += "; the weight decay takes 0.1";
    reasons.push_back("dropout " + detail::short_num(plan.dropout) +
                      (plan.planned_units <= 0 ? std::string(" (no planned length)")
                                               : " (" + detail::fixed(plan.planned_passes, 1) +
                                                     " passes x " + detail::fixed(per_unit, 2) +
                                                     " parameters per unit = " + exposure + ")"));
  }
  // Said only where it drops: most runs never come near, and config.json records the 0.
  if (in.choose_weight_drop && plan.weight_drop > 0)
    reasons.push_back("weight drop " + detail::short_num(plan.weight_drop) + " (exposure over " +
                      detail::fixed(memorising_exposure(start), 0) +
                      (in.choose_dropout ? ": it takes 0.1 of the dropout)" : ")"));

  plan.lr = in.lr;
  if (in.choose_lr) {
    plan.lr = planned_lr(in.vocab_size);
    std::string why = thousands(in.vocab_size) + "-unit vocabulary";
    if (in.max_lr > 0 && in.max_lr < plan.lr) {
      why += ": " + detail::short_num(plan.lr) + ", above the " + in.max_lr_cell + " cell's limit";
      plan.lr = in.max_lr;
    }
    const double peak = plan.lr;
    plan.lr = long_run_lr(peak, iterations);
    if (plan.lr != peak)  // "...; 0.0025 x 0.56 for 121k planned steps"
      why += "; " + detail::short_num(peak) + " x " + detail::fixed(plan.lr / peak, 2) + " for " +
             units_text(iterations) + " planned steps";
    reasons.push_back("lr " + detail::short_num(plan.lr) + " (" + why + ")");
  }

  if (in.choose_eval_every) {
    const bool memorising = plan.max_iters > 0 || plan.exposure > memorising_exposure(start);
    const double validations = memorising ? kValidations * kMemorisingValidations : kValidations;
    plan.eval_every = iterations > 0
                          ? std::max<std::int64_t>(
                                10, static_cast<std::int64_t>(std::ceil(iterations / validations)))
                          : 500;
  }
  if (in.choose_eval_units) {
    const double speedup = chosen.train_units_per_second > 0 && chosen.eval_units_per_second > 0
                               ? chosen.eval_units_per_second / chosen.train_units_per_second
                               : kEvalSpeedup;
    const double share = kValidationShare / kValidations * plan.planned_units * speedup /
                         static_cast<double>(std::max<std::int64_t>(1, in.models_scored));
    std::int64_t units = std::clamp(static_cast<std::int64_t>(std::round(share / 1000) * 1000),
                                    kMinEvalUnits, kMaxEvalUnits);
    if (plan.planned_units <= 0) units = kMaxEvalUnits;
    plan.eval_units = units >= in.valid_units ? 0 : units;  // 0 = the whole split
  }
  if (in.choose_eval_every || in.choose_eval_units) {
    std::string v = "validation";
    if (in.choose_eval_every) v += " every " + thousands(plan.eval_every) + " iterations";
    if (in.choose_eval_units)
      v += plan.eval_units == 0
               ? " on the whole split"
               : " on " + thousands(plan.eval_units) + " units spread over the split";
    reasons.push_back(v);
  }

  if (reasons.empty()) return plan;
  std::string head;
  if (plan.planned_units > 0) {
    head = units_text(plan.planned_units) + " units planned (" +
           detail::fixed(plan.planned_passes, plan.planned_passes < 10 ? 1 : 0) + " passes over " +
           units_text(static_cast<double>(in.train_units));
    if (time_ends(in, chosen, plan.planned_units))
      head += ", " + format_duration(in.time_limit) + " at " +
              rate_text(chosen.train_units_per_second) + " units/s measured";
    head += "): ";
  }
  plan.why = head;
  for (std::size_t i = 0; i < reasons.size(); ++i) plan.why += (i ? ", " : "") + reasons[i];
  return plan;
}

}  // namespace charnn
