// Text options shared by the commands that read a corpus (see text_options.hpp).
#include "text_options.hpp"

#include <cstdio>

namespace charnn::app {

std::string TextFlags::shown_split(const SplitFractions& f) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "%g,%g,%g", f.train, f.valid, f.test);
  return buf;
}

TextOptions TextFlags::text() const {
  TextOptions t;
  t.units = parse_unit_kind(units);
  t.normalize = parse_normalization(normalize);
  t.on_invalid = parse_on_invalid(on_invalid);
  t.normalize_newlines = !keep_cr;
  return t;
}

SplitFractions TextFlags::fractions() const {
  return parse_split(split);
}

void add_text_options(po::options_description& options, TextFlags& f) {
  options.add_options()(
      "units", po::value(&f.units)->default_value(f.units),
      "what one unit is: grapheme (a user-perceived character, ICU extended grapheme "
      "cluster), codepoint, or byte")(
      "normalize", po::value(&f.normalize)->default_value(f.normalize),
      "Unicode normalisation: nfc (compose e + U+0301 into é) or none")(
      "on-invalid", po::value(&f.on_invalid)->default_value(f.on_invalid),
      "invalid UTF-8: error (stop and say where) or replace (with U+FFFD)")(
      "keep-cr", po::bool_switch(&f.keep_cr),
      "keep CR and CRLF line ends instead of turning them into LF")(
      "min-count", po::value(&f.vocab.min_count)->default_value(f.vocab.min_count),
      "units seen fewer times map to one unknown symbol")(
      "max-vocab", po::value(&f.vocab.max_vocab)->default_value(f.vocab.max_vocab),
      "keep at most this many ids, unknown symbol included (0 = no limit)")(
      "split", po::value(&f.split)->default_value(f.split),
      "train,valid,test fractions of the corpus (contiguous, in this order)");
}

}  // namespace charnn::app
