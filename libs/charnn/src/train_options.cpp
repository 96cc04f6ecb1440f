// The table of training options: one row per setting (the model, optimisation and stopping
// rows; the text's and the corpus's are in train_text_options.cpp). See train_config.hpp for what each
// column means; train_config.cpp derives the config keys, config.json and validation from it.
#include "charnn/train_config.hpp"
#include "option_values.hpp"
#include "train_option_rows.hpp"
#include "util.hpp"

#include <charnn/error.hpp>

#include <cmath>
#include <iterator>
#include <vector>

namespace charnn {

using namespace detail::option_values;

namespace {

using G = TrainOptionGroup;
using K = TrainValueKind;

static_assert(kFruitlessRollbacks == 2, "--rollback's help below says two");

// Laid out by hand: clang-format 14 re-wraps rows nobody touched (help strings, the accept macros'
// arguments, the lambdas) whenever one row changes, so `git clang-format` skips the table.
// clang-format off
const TrainOption kOptions[] = {
    // Model
    {.flag = "cell",
     .key = "cells",
     .group = G::model,
     .value_name = "CELL[,CELL...]",
     .help = "cell plugin of every layer (lstm, gru, elman, or a plugin's name), or one per "
             "layer as a comma list, e.g. lstm,elman",
     .get = [](const TrainConfig& c) { return detail::join(c.cells, ","); },
     .set = [](TrainConfig& c, const std::string& s) { c.cells = detail::split_string(s, ','); },
     // One name keeps the layer count (--layers sets it); a list sets one cell per layer.
     .set_from_cli =
         [](TrainConfig& c, const std::string& s) {
           const auto names = cell_list(s);
           if (names.size() == 1)
             c.cells.assign(c.cells.size(), names[0]);
           else
             c.cells = names;
         },
     .shown = common_cell,
     .check = [](const TrainConfig& c, const std::string& name) -> TrainOptionProblem {
       if (c.cells.empty()) return {"no cell given (" + name + ")", {}};
       for (const auto& cell : c.cells)
         if (cell.empty())
           return {"empty cell name in " + name,
                   "e.g. " + name + " lstm or " + name + " lstm,elman"};
       return {};
     }},
    {.flag = "layers",
     .key = "cells",
     .group = G::model,
     .kind = K::integer,
     .value_name = "N",
     .help = "number of stacked layers",
     .set_from_cli =
         [](TrainConfig& c, const std::string& s) {
           const std::int64_t n = parse_int(s);
           if (n < 1) throw error("--layers must be at least 1", {}, 2);
           if (common_cell(c).find(',') == std::string::npos)
             c.cells.assign(static_cast<std::size_t>(n), c.cells.front());
           else if (n != static_cast<std::int64_t>(c.cells.size()))
             throw error("--cell lists " + std::to_string(c.cells.size()) +
                             " layers but --layers is " + std::to_string(n),
                         "give one cell name, or drop --layers", 2);
         },
     .shown = [](const TrainConfig& c) { return std::to_string(c.cells.size()); }},
    {.flag = "hidden",
     .key = "hidden",
     .group = G::model,
     .value_name = "N|auto",
     .help = "neurons (hidden units) per layer (H); auto: the widest of 512, 384, 256, 192, 128 that the "
             "budget can train on enough text, at the speed measured at the start (the banner's "
             "plan line says what was chosen and why)",
     CHARNN_AUTO_INTEGER(hidden),
     CHARNN_ACCEPT_IF(c.hidden >= 1 || c.hidden == kAuto, " must be at least 1, or auto")},
    {.flag = "dropout",
     .key = "dropout",
     .group = G::model,
     .value_name = "P|auto",
     .help = "dropout between layers and before the output layer, in [0, 1); auto: from how "
             "much the run can memorise (planned passes over the text x parameters per unit of "
             "text), 0 for little, at most 0.5; 0.1 less where the weights decay (decoupled) "
             "or the recurrent weights are dropped",
     .get =
         [](const TrainConfig& c) {
           return c.dropout == kAutoDropout ? std::string("auto") : float_text(c.dropout);
         },
     .set =
         [](TrainConfig& c, const std::string& s) {
           c.dropout = static_cast<float>(parse_auto_real(s, kAutoDropout));
         },
     CHARNN_ACCEPT_IF((c.dropout >= 0 && c.dropout < 1) || c.dropout == kAutoDropout,
                      " must be in [0, 1), or auto")},
    {.flag = "dropout-mask",
     .key = "dropout_mask",
     .group = G::model,
     .value_name = "step|segment",
     .help = "which units dropout silences: new ones at every step, or the same ones through each "
             "stream's whole segment (variational dropout)",
     .get = [](const TrainConfig& c) { return to_string(c.dropout_mask); },
     .set = [](TrainConfig& c, const std::string& s) { c.dropout_mask = parse_dropout_mask(s); },
     .missing = "step"},  // checkpoints from before the choice drew a mask per step
    {.flag = "weight-drop",
     .key = "weight_drop",
     .group = G::model,
     .value_name = "P|auto",
     .help = "DropConnect on the recurrent weights (each cell's w_h): each weight zeroed with "
             "probability P, one mask per step, in [0, 1) (0 = off); auto: 0.15 once the run can "
             "memorise 32 times more than where the cells start dropout (so --dropout auto gives "
             "0.1 to it, and --max-exposure auto lets the run go 4 times further), else 0",
     CHARNN_AUTO_REAL(weight_drop, kAutoWeightDrop),
     .missing = "0",  // runs from before the option
     CHARNN_ACCEPT_IF((c.weight_drop >= 0 && c.weight_drop < 1) || c.weight_drop == kAutoWeightDrop,
                      " must be in [0, 1) (0 = off), or auto")},

    // Optimisation
    {.flag = "seq-len,T",
     .key = "seq_len",
     .kind = K::integer,
     .value_name = "STEPS",
     .help =
         "steps per segment: backpropagation through time is truncated here; state is carried on",
     CHARNN_INTEGER(seq_len),
     CHARNN_ACCEPT_IF(c.seq_len >= 1, " must be at least 1")},
    {.flag = "batch,N",
     .key = "batch",
     .kind = K::integer,
     .value_name = "STREAMS",
     .help = "parallel streams per step",
     CHARNN_INTEGER(batch),
     CHARNN_ACCEPT_IF(c.batch >= 1, " must be at least 1")},
    {.flag = "optimizer",
     .key = "optimizer",
     .value_name = "adam|rmsprop|sgd",
     .help = "adam, rmsprop or sgd",
     .get = [](const TrainConfig& c) { return to_string(c.optimizer.kind); },
     .set = [](TrainConfig& c, const std::string& s) { c.optimizer.kind = parse_optimizer(s); }},
    {.flag = "lr",
     .key = "lr",
     .value_name = "RATE|auto",
     .help = "peak learning rate; auto: 2e-2 for vocabularies of up to 128 units, lower for "
             "larger ones (Adam with a high rate stalls over hundreds of output units), no "
             "higher than the cells' declared limit (`charnn cells` lists it), lower for a run "
             "planned at more than 20,000 steps (x (20,000 / steps)^(1/3): a long run spends "
             "many epochs near its peak), halved while a short trial run from the initial "
             "weights diverges",
     .resumable = true,  // to recover from a divergence
     CHARNN_AUTO_REAL(schedule.lr, kAutoLr),
     CHARNN_ACCEPT_IF((c.schedule.lr > 0 && std::isfinite(c.schedule.lr)) ||
                          c.schedule.lr == kAutoLr,
                      " must be a positive number, or auto")},
    {.flag = "lr-schedule",
     .key = "lr_schedule",
     .value_name = "constant|epoch|cosine",
     .help = "constant; epoch (x --lr-decay per epoch); cosine (down to --min-lr x lr over the "
             "planned run: --max-iters, --epochs or --time)",
     .get = [](const TrainConfig& c) { return to_string(c.schedule.kind); },
     .set = [](TrainConfig& c, const std::string& s) { c.schedule.kind = parse_lr_schedule(s); }},
    {.flag = "lr-decay",
     .key = "lr_decay",
     .kind = K::real,
     .value_name = "FACTOR",
     .help = "per-epoch factor for --lr-schedule epoch",
     CHARNN_REAL(schedule.decay),
     CHARNN_ACCEPT_IF(c.schedule.decay > 0 && c.schedule.decay <= 1, " must be in (0, 1]")},
    {.flag = "decay-after",
     .key = "decay_after",
     .kind = K::real,
     .value_name = "EPOCHS",
     .help = "epochs at the full rate before --lr-schedule epoch starts decaying",
     CHARNN_REAL(schedule.decay_after)},
    {.flag = "min-lr",
     .key = "min_lr_factor",
     .kind = K::real,
     .value_name = "FRACTION",
     .help = "final rate of the cosine schedule, as a fraction of --lr",
     CHARNN_REAL(schedule.min_factor),
     CHARNN_ACCEPT_IF(c.schedule.min_factor >= 0 && c.schedule.min_factor <= 1,
                      " must be in [0, 1] (a fraction of --lr)")},
    {.flag = "warmup",
     .key = "warmup",
     .value_name = "ITERS|auto",
     .help = "iterations of linear learning-rate warm-up; auto: 100, and 100 more per doubling "
             "of the vocabulary beyond 164 units (300 for 707)",
     CHARNN_AUTO_INTEGER(schedule.warmup),
     CHARNN_ACCEPT_IF(c.schedule.warmup >= 0 || c.schedule.warmup == kAuto,
                      " must be at least 0, or auto")},
    {.flag = "clip",
     .key = "clip",
     .kind = K::real,
     .value_name = "NORM",
     .help = "clip the global gradient norm to this (0 = off)",
     .resumable = true,
     CHARNN_REAL(clip),
     CHARNN_ACCEPT_IF(c.clip >= 0 && std::isfinite(c.clip), " must be >= 0 (0 = off)")},
    {.flag = "skip-bursts",
     .key = "skip_bursts",
     .kind = K::real,
     .value_name = "FACTOR",
     .help = "skip the step (clipping is not enough) when the gradient norm is more than FACTOR "
             "times its running level: a rare passage the model is sure of and wrong about makes "
             "bursts that set a run back (0 = off)",
     .resumable = true,
     CHARNN_REAL(skip_bursts),
     .missing = "0",  // runs from before the skipping
     CHARNN_ACCEPT_IF(c.skip_bursts == 0 || (c.skip_bursts > 1 && std::isfinite(c.skip_bursts)),
                      " must be above 1 (0 = off)")},
    {.flag = "ema",
     .key = "ema",
     .kind = K::real,
     .value_name = "DECAY",
     .help = "keep a running average of the weights (decay per step); validation scores it "
             "beside the trained weights and the checkpoints keep the better (0 = off)",
     CHARNN_REAL(ema),
     .missing = "0",  // runs from before the average
     CHARNN_ACCEPT_IF(c.ema == 0 || (c.ema > 0 && c.ema < 1), " must be in [0, 1) (0 = off)")},
    {.flag = "momentum",
     .key = "momentum",
     .kind = K::real,
     .value_name = "M",
     .help = "SGD momentum",
     CHARNN_REAL(optimizer.momentum)},
    {.flag = "weight-decay",
     .key = "weight_decay",
     .kind = K::real,
     .value_name = "L",
     .help = "weight decay (0 = off): with --weight-decay-mode decoupled every weight shrinks "
             "by the learning rate x L each step, apart from the optimiser's update",
     CHARNN_REAL(optimizer.weight_decay)},
    {.flag = "weight-decay-mode",
     .key = "weight_decay_mode",
     .value_name = "decoupled|l2",
     .help = "decoupled (AdamW: weights shrink by lr x --weight-decay each step, apart from "
             "the optimiser's update) or l2 (--weight-decay x the weight is added to the "
             "gradient, which Adam then rescales)",
     .get = [](const TrainConfig& c) { return to_string(c.optimizer.weight_decay_mode); },
     .set =
         [](TrainConfig& c, const std::string& s) {
           c.optimizer.weight_decay_mode = parse_weight_decay_mode(s);
         },
     .missing = "l2"},  // checkpoints from before the option used L2
    {.flag = "random-seed",
     .key = "seed",
     .kind = K::integer,
     .value_name = "N",
     .help = "seed for the initial weights, dropout and epoch offsets",
     .get = [](const TrainConfig& c) { return std::to_string(c.seed); },
     .set = [](TrainConfig& c,
               const std::string& s) { c.seed = parse_seed(s); }},
    // Not on the command line: what the plan chose and why, for whoever reads config.json.
    {.key = "plan",
     .get = [](const TrainConfig& c) { return c.plan; },
     .set = [](TrainConfig& c, const std::string& s) { c.plan = s; },
     .missing = ""},  // runs from before the plan
    // Not on the command line: recorded so a resumed run uses the same optimiser.
    {.key = "beta1", CHARNN_REAL(optimizer.beta1)},
    {.key = "beta2", CHARNN_REAL(optimizer.beta2)},
    {.key = "eps", CHARNN_REAL(optimizer.eps)},
    {.key = "rms_decay", CHARNN_REAL(optimizer.rms_decay)},

    // Stopping, validation and output
    {.flag = "time",
     .key = "time_limit",
     .group = G::stopping,
     .value_name = "DURATION",
     .help = "wall-clock budget of the whole run, its last validations included (90s, 15m, 1.5h; "
             "0 = none). Applies by default only when neither --epochs nor --max-iters is given",
     .resumable = true,
     CHARNN_REAL(time_limit),
     .set_from_cli = [](TrainConfig& c, const std::string& s) { c.time_limit = parse_duration(s); },
     .shown = [](const TrainConfig&) { return minutes_text(kDefaultTimeLimit); },
     CHARNN_ACCEPT_IF(c.time_limit >= 0 || c.time_limit == kDefaultTime, " must not be negative")},
    {.flag = "epochs",
     .key = "epochs",
     .group = G::stopping,
     .kind = K::integer,
     .value_name = "N",
     .help = "stop after this many epochs (0 = no limit)",
     .resumable = true,
     CHARNN_INTEGER(epochs),
     CHARNN_ACCEPT_IF(c.epochs >= 0, " must not be negative")},
    {.flag = "max-iters",
     .key = "max_iters",
     .group = G::stopping,
     .kind = K::integer,
     .value_name = "N",
     .help = "stop after this many iterations (0 = no limit)",
     .resumable = true,
     CHARNN_INTEGER(max_iters),
     CHARNN_ACCEPT_IF(c.max_iters >= 0, " must not be negative")},
    {.flag = "max-exposure",
     .key = "max_exposure",
     .group = G::stopping,
     .value_name = "E|auto",
     .help = "stop once the run has seen its text this much for its size: passes x parameters "
             "per unit of text, the exposure of the banner's plan line. Beyond a point a model "
             "learns the text by heart and validation rises, whatever its dropout; auto: five "
             "doublings past the exposure where the cells start dropout (charnn cells shows it) "
             "when the recurrent weights are dropped (--weight-drop), five when they are not, "
             "when only --time limits the run, so that a small corpus ends before the budget; "
             "none with --epochs or --max-iters; 0 = none",
     CHARNN_AUTO_REAL(max_exposure, kAutoMaxExposure),
     .missing = "0",  // runs from before the limit
     CHARNN_ACCEPT_IF((c.max_exposure >= 0 && std::isfinite(c.max_exposure)) ||
                          c.max_exposure == kAutoMaxExposure,
                      " must not be negative, or auto")},
    {.flag = "patience",
     .key = "patience",
     .group = G::stopping,
     .kind = K::integer,
     .value_name = "N",
     .help = "early stopping: stop after this many validations without improvement (0 = off)",
     .resumable = true,
     CHARNN_INTEGER(patience),
     CHARNN_ACCEPT_IF(c.patience >= 0, " must not be negative")},
    {.flag = "rollback",
     .key = "rollback",
     .group = G::stopping,
     .kind = K::integer,
     .value_name = "N",
     .help = "after N validations in a row worse than the best, go back to the best model "
             "(weights and optimiser state) and halve the learning rate for the rest of the run, "
             "so the budget is not spent overfitting; after two such rollbacks that found no "
             "better model, and an epoch without one, end the run on it; a run that stops on "
             "weights that validated worse than the best ends on the best too; and when the loss "
             "on the first training batch (scored every 50 iterations) rises 0.25 nats above its "
             "lowest, go back too (0 = none of these)",
     .resumable = true,
     CHARNN_INTEGER(rollback),
     .missing = "0",  // runs from before rollbacks
     CHARNN_ACCEPT_IF(c.rollback >= 0, " must not be negative")},
    {.flag = "eval-every",
     .key = "eval_every",
     .group = G::stopping,
     .value_name = "ITERS|auto",
     .help = "validate and checkpoint every K iterations (and at the end); auto: about 12 times "
             "in the planned run, 36 in one that learns its text by heart (the exposure limit "
             "ends it, or it passes 32 times the cells' dropout start, where weight drop begins)",
     .resumable = true,
     CHARNN_AUTO_INTEGER(eval_every),
     CHARNN_ACCEPT_IF(c.eval_every >= 1 || c.eval_every == kAuto, " must be at least 1, or auto")},
    {.flag = "eval-units",
     .key = "eval_units",
     .group = G::stopping,
     .value_name = "N|auto",
     .help = "periodic validation scores at most this many units of the validation split, "
             "streams spread evenly over it (0 = all), and alone picks best.ckpt; at the end "
             "the whole split is scored as well. auto: "
             "20,000-100,000, so that validation costs about 5% of the training time",
     .resumable = true,
     CHARNN_AUTO_INTEGER(eval_units),
     CHARNN_ACCEPT_IF(c.eval_units >= 0 || c.eval_units == kAuto,
                      " must be >= 0 (0 = the whole validation split), or auto")},
    {.flag = "log-every",
     .key = "log_every",
     .group = G::stopping,
     .kind = K::integer,
     .value_name = "ITERS",
     .help = "a metrics.csv row every K iterations",
     .resumable = true,
     CHARNN_INTEGER(log_every),
     CHARNN_ACCEPT_IF(c.log_every >= 1, " must be at least 1")},
    {.flag = "keep-every",
     .key = "keep_every",
     .group = G::stopping,
     .kind = K::integer,
     .value_name = "ITERS",
     .help = "also validate every K iterations and keep that model as "
             "iter-<K>-val-<loss>.ckpt in the run directory, to sample from mid-run models "
             "(0 = off; best.ckpt and last.ckpt are kept either way)",
     .resumable = true,
     CHARNN_INTEGER(keep_every),
     .missing = "0",  // runs from before snapshots
     CHARNN_ACCEPT_IF(c.keep_every >= 0, " must not be negative")},
    {.flag = "out,o",
     .group = G::stopping,
     .value_name = "DIR",
     .help = "run directory (default: runs/<corpus>-<date>-<time>, and runs/latest points at it)",
     .set = [](TrainConfig& c, const std::string& s) { c.out = s; }},
    {.flag = "resume",
     .group = G::stopping,
     .value_name = "RUN_DIR|FILE",
     .help = "continue a run exactly where its last.ckpt stopped; only the stop conditions, "
             "--eval-*, --log-every, --lr, --clip, --skip-bursts and --precision may change",
     .set = [](TrainConfig& c, const std::string& s) { c.resume = s; }},
    {.flag = "more",
     .group = G::stopping,
     .value_name = "DURATION",
     .help = "with --resume: train a finished run DURATION longer (10m, 1h) at the rate its "
             "schedule ended on, where --time would start a second annealing cycle",
     .set = [](TrainConfig& c, const std::string& s) { c.more = parse_duration(s); },
     CHARNN_ACCEPT_IF(c.more >= 0, " must not be negative")},
    {.flag = "threads",
     .group = G::stopping,
     .kind = K::integer,
     .value_name = "N",
     .help = "threads (0 = every CPU not kept busy by another process, fewer while others compete)",
     .set =
         [](TrainConfig& c, const std::string& s) {
           const std::int64_t n = parse_int(s);
           if (n < 0 || n > 4096)
             throw error("--threads " + s + " is not allowed", "0 (automatic) or a count", 2);
           c.threads = static_cast<int>(n);
         },
     .shown = [](const TrainConfig& c) { return std::to_string(c.threads); }},
    {.flag = "precision",
     .key = "precision",
     .group = G::stopping,
     .value_name = "auto|f32|bf16",
     .help = "arithmetic of the training passes' matrix products (the recurrent layers' and the "
             "output layer's): bf16 (bfloat16 products with float32 accumulation, weights, states "
             "and softmax; ~1.7x faster), f32, or auto (bf16 where the CPU has AVX512_BF16; a "
             "given bf16 the CPU cannot run trains in f32 and says so). Validation and "
             "checkpoints are float32 either way",
     .resumable = true,
     .get = [](const TrainConfig& c) { return to_string(c.precision); },
     .set =
         [](TrainConfig& c, const std::string& s) {
           c.precision = parse_step_precision(s);
           // int8 is a sampling arithmetic: training would record it and run in f32.
           if (c.precision == StepPrecision::int8)
             throw error("--precision int8 is for sampling", "training takes auto, f32 or bf16",
                         2);
         },
     .missing = "f32"},  // checkpoints from before --precision trained in float32
    {.flag = "progress",
     .group = G::stopping,
     .value_name = "auto|live|plain|quiet|json",
     .help = "auto (a live line on a terminal, plain lines otherwise), live, plain, quiet, or "
             "json: one JSON object per line on stderr for scripts (\"event\": \"log\", "
             "\"validation\", \"message\" or \"done\"; the fields of metrics.csv)",
     .set = [](TrainConfig& c, const std::string& s) { c.progress = parse_progress(s); },
     .shown = [](const TrainConfig&) { return std::string("auto"); }},
    {.flag = "no-memory-check",
     .group = G::stopping,
     .kind = K::switch_,
     .help = "train even when the model and batch seem to need more memory than the machine has "
             "available (the estimate is printed when a run is refused)",
     .set = [](TrainConfig& c, const std::string&) { c.check_memory = false; }},
};
// clang-format on

}  // namespace

std::span<const TrainOption> train_options() {
  // This file's rows, then the text's and the corpus's (train_text_options.cpp), in --help order.
  static const std::vector<TrainOption> all = [] {
    std::vector<TrainOption> rows(std::begin(kOptions), std::end(kOptions));
    const auto text = detail::text_option_rows();
    rows.insert(rows.end(), text.begin(), text.end());
    return rows;
  }();
  return all;
}

}  // namespace charnn
