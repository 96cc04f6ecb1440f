// The small parsers of the command line: durations (--time), escapes (--stop, --seed), split
// fractions (--split), unit kinds and friends. Any text parses or gives one charnn::error.
#include <charnn/error.hpp>
#include <charnn/sampler.hpp>
#include <charnn/text.hpp>
#include <charnn/train_config.hpp>
#include <charnn/vocab.hpp>

#include <cmath>
#include <string>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto in = charnn::fuzz::split_input(data, size);
  try {
    switch (in.mode % 4) {
      case 0: {
        const double s = charnn::parse_duration(in.rest);
        if (!(s >= 0) || std::isinf(s)) charnn::fuzz::broken_invariant();
        (void)charnn::format_duration(s);
        break;
      }
      case 1:
        (void)charnn::unescape_cli(in.rest);
        break;
      case 2: {
        const auto f = charnn::parse_split(in.rest);
        if (!(f.train > 0) || f.valid < 0 || f.test < 0) charnn::fuzz::broken_invariant();
        break;
      }
      default:
        (void)charnn::parse_unit_kind(in.rest);
        (void)charnn::parse_normalization(in.rest);
        (void)charnn::parse_on_invalid(in.rest);
        break;
    }
  } catch (const charnn::error&) {
  }
  return 0;
}
