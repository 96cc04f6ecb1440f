// Private to libs/charnn: the unit segmenter shared by text_units.cpp (for_each_unit),
// text_cleaner.cpp (the reader's chunk boundaries) and vocab.cpp (counting, encoding). It keeps
// one ICU BreakIterator alive across calls, because creating one per call costs more than
// segmenting a short string.
#pragma once

#include <charnn/text.hpp>

#include <cstddef>
#include <memory>
#include <string_view>

#include <unicode/brkiter.h>
#include <unicode/utext.h>

namespace charnn::detail {

// Iterates the units of cleaned (valid UTF-8) text. ICU break iterators use 32-bit positions,
// so long texts are walked in windows that always restart on a unit boundary.
class UnitSegmenter {
 public:
  // window_bytes: how much text ICU sees at once (tests make it small to exercise the seams).
  explicit UnitSegmenter(UnitKind kind, std::size_t window_bytes = std::size_t{256} << 20);
  ~UnitSegmenter();
  UnitSegmenter(const UnitSegmenter&) = delete;
  UnitSegmenter& operator=(const UnitSegmenter&) = delete;

  void reset(std::string_view text);
  // The next unit, or false at the end of the text.
  bool next(std::string_view& unit);
  // Like next, but returns a whole run of units that are one byte each (singles = true; every
  // byte of run is a unit) when there is one, else one unit (singles = unit.size() == 1).
  // Counting and encoding use it to handle ASCII text without a call per character.
  bool next_run(std::string_view& run, bool& singles);

  // Offset of the last grapheme boundary strictly before text.size() (0 when there is none):
  // the text before it is final, the cluster after it might still grow with more input.
  std::size_t last_inner_boundary(std::string_view text);

 private:
  void set_window(std::size_t start);

  UnitKind kind_;
  std::size_t window_;
  std::string_view text_;
  std::size_t pos_ = 0;        // start of the next unit, absolute
  std::size_t win_start_ = 0;  // absolute offset of the window ICU sees
  std::size_t win_end_ = 0;
  bool icu_synced_ = false;  // whether the iterator's current position equals pos_
  std::unique_ptr<icu::BreakIterator> bi_;
  UText ut_ = UTEXT_INITIALIZER;
};

// Length of the UTF-8 sequence that starts with lead byte b (1 for continuation bytes, which
// cleaned text never starts a code point with).
inline std::size_t utf8_length(unsigned char b) {
  return b < 0xC0 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
}

}  // namespace charnn::detail
