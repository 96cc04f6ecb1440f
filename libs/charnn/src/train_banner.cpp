// The training banner and number formats. See train_banner.hpp.
#include "train_banner.hpp"

#include "util.hpp"

#include <cstdio>

namespace charnn::detail {

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string short_num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

std::string thousands(std::int64_t v) {
  std::string s = std::to_string(v), out;
  const int lead = static_cast<int>(s.size()) % 3;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i && (static_cast<int>(i) - lead) % 3 == 0) out.push_back(',');
    out.push_back(s[i]);
  }
  return out;
}

std::string rate_text(double per_second) {
  if (per_second >= 1000) return fixed(per_second / 1000, 1) + "k";
  return fixed(per_second, 0);
}

std::string training_banner(const TrainConfig& c, const BannerFacts& f) {
  std::string stops;
  if (c.time_limit > 0) stops += " time " + format_duration(c.time_limit);
  if (c.max_iters > 0) stops += " max-iters " + std::to_string(c.max_iters);
  if (c.epochs > 0) stops += " epochs " + std::to_string(c.epochs);
  if (c.max_exposure > 0) stops += " max-exposure " + short_num(c.max_exposure);
  if (c.patience > 0) stops += " patience " + std::to_string(c.patience);
  if (stops.empty()) stops = " none (Ctrl-C stops and checkpoints)";
  const std::string threads = std::to_string(f.threads) + (f.threads == 1 ? " thread" : " threads");
  const std::string workers =
      f.ranks > 1
          ? std::to_string(f.ranks) + " ranks x " + threads + ", global batch " +
                std::to_string(c.batch) + " (" + std::to_string(c.batch / f.ranks) +
                (c.batch % f.ranks ? std::string("-").append(std::to_string(c.batch / f.ranks + 1))
                                   : "") +
                " streams per rank)"
          : "threads " + std::to_string(f.threads);
  return std::string(f.resuming ? "resuming " : "training ") + f.run_dir + " at iteration " +
         std::to_string(f.iteration) + "\n  corpus: " + thousands(f.corpus_units) + " units (" +
         to_string(c.text.units) + "), vocabulary " + std::to_string(f.vocab_size) + "; train " +
         thousands(f.train_units) + ", validation " + thousands(f.valid_units) +
         "\n  model: " + join(c.cells, ",") + " x " + std::to_string(c.hidden) + ", " +
         thousands(f.parameters) + " parameters, dropout " + short_num(c.dropout) +
         (c.dropout > 0 && c.dropout_mask == DropoutMask::segment ? " (one mask per segment)"
                                                                  : "") +
         (c.weight_drop > 0 ? ", recurrent weights dropped " + short_num(c.weight_drop)
                            : std::string()) +
         "\n  batch " + std::to_string(c.batch) + " streams x " + std::to_string(c.seq_len) +
         " steps (" + thousands(f.iterations_per_epoch) + " iterations per epoch), " +
         to_string(c.optimizer.kind) + " lr " + short_num(c.schedule.lr) + " (" +
         to_string(c.schedule.kind) + ")" +
         (c.optimizer.weight_decay > 0 ? ", weight decay " + short_num(c.optimizer.weight_decay) +
                                             " (" + to_string(c.optimizer.weight_decay_mode) + ")"
                                       : std::string()) +
         ", clip " + short_num(c.clip) +
         (c.skip_bursts > 0 ? ", bursts above " + short_num(c.skip_bursts) + "x skipped"
                            : std::string()) +
         (c.ema > 0 ? ", weight average " + short_num(c.ema) : std::string()) + ", " + f.precision +
         ", " + workers + "\n  stop:" + stops +
         (c.rollback > 0
              ? "; back to the best model at half the rate after " + std::to_string(c.rollback) +
                    " validation(s) without improvement (after the first pass) or a loss "
                    "spike, ending on it after " +
                    std::to_string(kFruitlessRollbacks) +
                    " such rollbacks and an epoch without a better one"
              : std::string()) +
         (c.plan.empty() || f.resuming ? std::string() : "\n  plan: " + c.plan);
}

}  // namespace charnn::detail
