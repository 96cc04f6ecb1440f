// The training plan: the settings a user left on `auto` (--hidden, --dropout, --weight-drop,
// --lr, --eval-every, --eval-units, --max-exposure), chosen from the corpus size, the budget and
// how fast this machine trains. A pure function of its inputs; the trainer measures the speeds (a
// few timed steps) and passes them in. docs/training.md gives the measurements behind each rule.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace charnn {

// What a model of one width costs here: measured by the trainer, given by hand in tests.
struct WidthCost {
  std::int64_t parameters = 0;
  double train_units_per_second = 0;  // forward + backward + update; 0 = not measured
  double eval_units_per_second = 0;   // forward only, as validation runs it; 0 = not measured
};

struct PlanInput {
  std::int64_t train_units = 0;
  std::int64_t valid_units = 0;
  std::int64_t units_per_iteration = 0;  // batch x seq_len
  std::int64_t vocab_size = 0;
  // The stop conditions (0 = not set); the first one reached ends the run.
  std::int64_t max_iters = 0;
  std::int64_t epochs = 0;
  double time_limit = 0;  // seconds
  // A stop condition too: the run ends at this exposure (memorisation below); 0 = none.
  double max_exposure = 0;
  // What to choose. A width that is not chosen is `hidden`, and the plan only costs it.
  bool choose_hidden = false, choose_dropout = false, choose_lr = false, choose_weight_drop = false;
  bool choose_eval_every = false, choose_eval_units = false;
  // max_exposure: planned_max_exposure of the dropout start when only time_limit stops the run,
  // else none.
  bool choose_max_exposure = false;
  // Models each validation scores: 2 with a weight average (--ema), which is scored beside the
  // trained weights; the slice is sized so that all of them together keep to the share.
  std::int64_t models_scored = 1;
  std::int64_t hidden = 512;  // the given width, or the largest candidate
  float dropout = 0;          // the given dropout
  double weight_drop = 0;     // the given weight drop
  // Whether every cell names its recurrent weights (w_h), which weight drop needs: without it
  // --weight-drop auto is 0.
  bool cells_drop_weights = true;
  // Whether the optimiser decays the weights (decoupled, the default): the decay takes 0.1 of
  // --dropout auto's share below where weight drop begins.
  bool decays_weights = false;
  double lr = 0;              // the given peak learning rate
  // The lowest peak rate the model's cell plugins declare as their limit (0 = none), and whose.
  double max_lr = 0;
  std::string max_lr_cell{};
  // The lowest exposure at which the model's cells declare they need dropout (0 = none declared:
  // kDropoutExposure), and whose.
  double dropout_exposure = 0;
  std::string dropout_exposure_cell{};
};

// The widths --hidden auto chooses among, largest first. The largest is the classic char-rnn
// size, the most this project has validated; the plan only ever makes a model smaller.
inline const std::vector<std::int64_t>& plan_widths() {
  static const std::vector<std::int64_t> widths = {512, 384, 256, 192, 128};
  return widths;
}

// --hidden auto takes the widest model that sees at least this many training units per
// parameter in the budget: below it a smaller, faster model ends lower.
inline constexpr double kUnitsPerParameter = 2.0;

struct TrainPlan {
  std::int64_t hidden = 0;
  float dropout = 0;
  double weight_drop = 0;
  double lr = 0;
  std::int64_t eval_every = 0;
  std::int64_t eval_units = 0;
  double max_exposure = 0;  // the given limit, or the chosen one (0 = none)
  // The iteration at which the run reaches max_exposure, when that comes before the other stop
  // conditions; 0 when it does not.
  std::int64_t max_iters = 0;
  double planned_units = 0;   // training units the run will see
  double planned_passes = 0;  // planned_units / train_units
  double exposure = 0;        // memorisation(planned_passes, parameters, train_units)
  std::string why;            // one line for the banner and config.json
};

// How much a run can memorise: planned passes over the training text times parameters per
// training unit. A model with few parameters per unit of text, or one that sees the text only
// once or twice, has little chance to learn it by heart.
inline double memorisation(double passes, double parameters, double train_units) {
  return train_units > 0 ? passes * parameters / train_units : 0;
}

// The peak learning rate for Adam over a vocabulary of this size: 2e-2 up to 128 units (tuned on
// War and Peace, 82 units), then falling as (128 / V)^0.8, at least 2e-3. Adam moves every output
// weight by about the rate each step, also those of units that are rare in the batch, and with
// hundreds of them a high rate holds the model at the unigram loss: on Thai (707 units) 2e-2 and
// 1e-2 stayed there for 500 iterations while 5e-3 left it after 350 (docs/training.md). The
// trainer then checks it on the run's own cell (lr_check.hpp): the rule was tuned on the LSTM.
// A cell plugin may also declare a limit (charnn_cell_api.max_learning_rate), which plan_training
// applies: the GRU's rises slowly at rates the check passes.
double planned_lr(std::int64_t vocab_size);

// A long run starts lower: the peak rate (the vocabulary's, or a cell's limit) times
// (kLongRunSteps / steps)^kLongRunPower for a run planned at more than kLongRunSteps optimiser
// steps, unchanged for a shorter one, rounded to two significant digits. The cosine holds a
// long run near its peak for many epochs: a 2x512 GRU on War and Peace at 2.5e-3 for 2 hours
// (121,000 steps) stopped improving 9 epochs in and went unstable 12.5-14 epochs in, in all
// three runs; at half the rate it was lower throughout and ended 0.018-0.032 nats below on the
// whole split. A 10-minute run (11,000 steps) anneals first, and there the full rate was 0.005
// ahead; at 30 minutes on ru (29,000) half was 0.002 ahead (docs/training.md).
inline constexpr double kLongRunSteps = 20000;
inline constexpr double kLongRunPower = 1.0 / 3;
double long_run_lr(double lr, double steps);

// The learning-rate warm-up for a vocabulary of this size: 100 iterations times the number of
// doublings of 82 units (War and Peace) it takes to reach it, rounded, at least one: 100 up to
// 164 units, 300 for Thai's 707, 600 for 6,173. Large vocabularies sit on the unigram plateau
// longest and leave it in a jump: with 100 the GRU at its 2.5e-3 on Thai fell back to the unigram
// level (or worse) in 3 of 5 ten-minute runs and 1 of 6 short ones; with 300 in none of 6 short
// ones (docs/training.md). Independent of the budget and the machine, so --warmup auto needs no
// measurement.
std::int64_t planned_warmup(std::int64_t vocab_size);

// --dropout auto starts at this exposure with 0.1, then adds 0.1 per doubling, up to
// kMaxDropout. Thai with a 2x256 model for 10 minutes (exposure 90) validated 2.929 without
// dropout and 2.965 with 0.3, still improving at the end either way; below 128 no run has called
// for dropout yet. With 2x512 for 30 minutes (exposure 1,177) dropout 0.3 was far too little:
// validation was best at 6.5 minutes (2.821) and 3.119 at the end (docs/training.md).
inline constexpr double kDropoutExposure = 128;
inline constexpr double kMaxDropout = 0.5;

// Past kWeightDropDoublings doublings of the dropout start (256 for the GRU, whose start is 8),
// --weight-drop auto drops the recurrent weights with kWeightDrop, and --dropout auto gives
// 0.1 of its share to it (kMaxDropout - 0.1). Dropout alone there only slows the memorising: a
// run at 0.5 that went on past 256 ended worse, so the limit stopped it at 256, a sixth to a
// third into a 10-minute budget on the small corpora. With both and the limit at 1,024 they
// ended lower (a 2x512 GRU, 10 minutes, two seeds each, session 30): Genesis -0.011, perldiag
// -0.022, German jokes -0.015, Thai -0.002, the licences +0.0045; mean -0.009, lower in 7 of 10
// (docs/training.md). Most found their best near where 256 stood; perldiag used the longer run.
inline constexpr double kWeightDropDoublings = 5;
inline constexpr double kWeightDrop = 0.15;

// The dropout for that exposure: 0 below `start`, then 0.1, 0.2, 0.3, 0.4 and 0.5 at 1, 2, 4, 8
// and 16 times it; 0.1 less when the recurrent weights are dropped too (`weight_drop`, past
// kWeightDropDoublings) or the optimiser decays the weights (`weight_decay`, decoupled), and no
// more than 0.1 less with both. A cell plugin may declare its own start
// (charnn_cell_api.dropout_exposure): the GRU, trained at a tenth of the LSTM's rate, declares 8.
// The decay's 0.1: with AdamW at 0.3 the C headers (exposure 16, seed 2, 10 minutes) validated
// 1.0297 at dropout 0.1 against 1.0353 at 0.2, and without the decay 1.0436 at 0.1 against 1.0364
// at 0.2: the decay does part of dropout's work (docs/training.md).
float planned_dropout(double exposure, double start = kDropoutExposure, bool weight_drop = false,
                      bool weight_decay = false);

// The weight drop for that exposure: kWeightDrop past kWeightDropDoublings doublings of `start`,
// else 0.
double planned_weight_drop(double exposure, double start = kDropoutExposure);

// --max-exposure auto, for a run that only a time budget stops: kStopDoublings doublings past
// the dropout start when the recurrent weights can be dropped (1,024 for the GRU, whose start is
// 8), else kStopDoublings - 2 (256), one beyond the exposure at which dropout reaches
// kMaxDropout. From there on the model learns the text by heart faster than the regularisers
// hold it back, and more of the budget only makes the final model worse. Thai (327k training
// units) with a 2x512 GRU at dropout 0.5 alone and a 30-minute budget, best / final validation:
// the whole budget (exposure 2,278) 2.8127 / 2.8843; stopped at 700 2.7395 / 2.7705 in 12
// minutes, at 350 2.7489 / 2.7564 in 6, at 200 2.7465 / 2.7491 in 4 (docs/training.md). With
// weight drop (above) perldiag improved past 256 and the others lost nothing by going on to
// 1,024. Large corpora never reach it: War and Peace for 2 hours is about 90.
inline constexpr double kStopDoublings = 7;
double planned_max_exposure(double start = kDropoutExposure, bool weight_drop = true);

// `cost(hidden)` is asked only for the widths the plan considers, widest first.
TrainPlan plan_training(const PlanInput& input,
                        const std::function<WidthCost(std::int64_t hidden)>& cost);

}  // namespace charnn
