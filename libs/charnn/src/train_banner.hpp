// What training prints before its first step (the banner), and the number formats every
// training message and metrics.csv share.
#pragma once

#include <charnn/train_config.hpp>

#include <cstdint>
#include <string>

namespace charnn::detail {

inline constexpr double kLn2 = 0.69314718055994530942;  // nats -> bits

std::string fixed(double v, int digits);   // "%.*f"
std::string short_num(double v);           // 3 significant digits: 0.002, 1.5e-05
std::string thousands(std::int64_t v);     // 1,234,567
std::string rate_text(double per_second);  // 950, 12.3k

// The facts the banner reports that the config does not hold.
struct BannerFacts {
  bool resuming = false;
  std::string run_dir;
  std::int64_t iteration = 0;
  std::int64_t corpus_units = 0, vocab_size = 0, train_units = 0, valid_units = 0;
  std::int64_t parameters = 0;
  std::int64_t iterations_per_epoch = 0;
  std::string precision;  // what the model resolved config.precision to
  int threads = 0;  // per rank
  int ranks = 1;    // processes training together (ranks.hpp)
};

// "training runs/x at iteration 0\n  corpus: ...\n  model: ...\n  batch ...\n  stop: ..."
std::string training_banner(const TrainConfig& config, const BannerFacts& facts);

}  // namespace charnn::detail
