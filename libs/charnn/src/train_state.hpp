// What a resumed run needs beyond the model and the optimiser moments: the iteration, the data
// position, the clock, the validation history. Its checkpoint keys (state.*) are listed once,
// in for_each_field, which both save() and load() walk.
#pragma once

#include <charnn/batches.hpp>
#include <charnn/checkpoint.hpp>

#include <cstdint>
#include <limits>
#include <string>

namespace charnn::detail {

struct TrainState {
  std::int64_t iteration = 0;  // optimiser steps done
  DataPosition position;       // the next segment to train on
  double elapsed = 0;          // training seconds, summed over sessions
  double best_valid = std::numeric_limits<double>::infinity();  // nats/unit, validation slice
  std::int64_t best_iteration = 0;
  double last_valid = std::numeric_limits<double>::quiet_NaN();
  std::int64_t evals_since_best = 0;                            // for --patience
  double train_ema = std::numeric_limits<double>::quiet_NaN();  // smoothed training loss
  std::int64_t units_seen = 0;
  std::int64_t optimizer_steps = 0;  // Adam's bias correction continues from here
  std::int64_t streams = 0;          // N of the carried recurrent state
  // --rollback: the factor on the scheduled learning rate (halved at each rollback) and how many
  // rollbacks there were. Optional keys: a checkpoint from before them means 1 and 0.
  double lr_scale = 1;
  std::int64_t rollbacks = 0;
  // --ema: whether the average validated better than the trained weights at the last validation,
  // and so is the model in the checkpoints' PARM (optional key: 0).
  std::int64_t average_chosen = 0;
  // --more: the elapsed seconds at which the run was first given time past its schedule (0 =
  // never). From there on the schedule stays where it ended (optional key: 0).
  double extended_from = 0;
  // The spike guard (trainer_impl.hpp): the lowest score of the fixed batch, and how many times
  // it went back (counted in rollbacks too). Optional keys: infinity and 0.
  double spike_lowest = std::numeric_limits<double>::infinity();
  std::int64_t spikes = 0;
  // Gradient bursts (gradient_bursts.hpp): the running level of log gradient norms, and how many
  // steps were skipped. Optional keys: NaN (a new level) and 0.
  double grad_log_level = std::numeric_limits<double>::quiet_NaN();
  std::int64_t bursts = 0;
  // --rollback: 1 once the run went back to its best model for good, its rollbacks having found
  // no better one (rollbacks_exhausted in trainer_impl.hpp); the run then ends (optional key: 0;
  // --more clears it).
  std::int64_t ended_on_best = 0;
  // 1 while the weights are best.ckpt's: validated as the best at this iteration, or gone back to
  // it since the last step. A run with --rollback that stops on other weights ends on the best
  // (Trainer::end_on_best). Optional key: 1, so that a run from before it finishes as it did.
  std::int64_t at_best = 1;
  // 1 once the run ended (Trainer::finish wrote its last checkpoint) and has not trained since: a
  // resumed finished run then reports its end again without validating again (optional key: 0).
  std::int64_t finished = 0;
  // The units the end of the run scored when a sample of the split, spread over it, stood in for
  // the whole (Trainer::end_units); 0 for the whole split. Optional key: 0.
  std::int64_t end_units = 0;
  // 1 once the run's periodic validations score units spread over the split (every run since
  // 36abc32, Trainer::rescore_old_best); 0 (the optional key's default) for one saved before,
  // whose best figure is of the split's first units.
  std::int64_t slice_spread = 0;
  // The learning-rate check's seconds before the first step: part of `elapsed` (they count against
  // --time), not of the schedule's clock (schedule_progress in trainer_impl.hpp). Optional key: 0.
  double check_seconds = 0;

  // Calls f(key, field) for every field, in one fixed order.
  template <class State, class F>
  static void for_each_field(State& s, F&& f) {
    f("state.iteration", s.iteration);
    f("state.epoch", s.position.epoch);
    f("state.segment", s.position.segment);
    f("state.elapsed", s.elapsed);
    f("state.best_valid", s.best_valid);
    f("state.best_iteration", s.best_iteration);
    f("state.last_valid", s.last_valid);
    f("state.evals_since_best", s.evals_since_best);
    f("state.train_ema", s.train_ema);
    f("state.units_seen", s.units_seen);
    f("state.optimizer_steps", s.optimizer_steps);
    f("state.streams", s.streams);
    f("state.lr_scale", s.lr_scale);
    f("state.rollbacks", s.rollbacks);
    f("state.average_chosen", s.average_chosen);
    f("state.extended_from", s.extended_from);
    f("state.spike_lowest", s.spike_lowest);
    f("state.spikes", s.spikes);
    f("state.grad_log_level", s.grad_log_level);
    f("state.bursts", s.bursts);
    f("state.ended_on_best", s.ended_on_best);
    f("state.at_best", s.at_best);
    f("state.finished", s.finished);
    f("state.end_units", s.end_units);
    f("state.slice_spread", s.slice_spread);
    f("state.check_seconds", s.check_seconds);
  }
  // Keys a checkpoint written before them may lack; they keep their defaults.
  static bool optional_key(const std::string& key) {
    return key == "state.lr_scale" || key == "state.rollbacks" || key == "state.average_chosen" ||
           key == "state.extended_from" || key == "state.spike_lowest" || key == "state.spikes" ||
           key == "state.grad_log_level" || key == "state.bursts" || key == "state.ended_on_best" ||
           key == "state.at_best" || key == "state.finished" || key == "state.end_units" ||
           key == "state.slice_spread" || key == "state.check_seconds";
  }

  void save(CheckpointData& d) const;
  // Throws charnn::error naming d.file when a key is missing or malformed.
  static TrainState load(const CheckpointData& d);
};

}  // namespace charnn::detail
