// Unit segmentation: cutting cleaned text into grapheme clusters (ICU's break iterator, with an
// ASCII fast path), code points or bytes, for the reader's chunk ends and for the vocabulary.
#include <charnn/error.hpp>
#include <charnn/text.hpp>

#include <algorithm>

#include "text_internal.hpp"

namespace charnn {

namespace detail {

// ICU break iterators address text with int32 offsets; windows (256 MiB by default) stay well
// below that.
UnitSegmenter::UnitSegmenter(UnitKind kind, std::size_t window_bytes)
    : kind_(kind), window_(std::max<std::size_t>(window_bytes, 4)) {
  if (kind_ == UnitKind::grapheme) {
    UErrorCode status = U_ZERO_ERROR;
    bi_.reset(icu::BreakIterator::createCharacterInstance(icu::Locale::getRoot(), status));
    if (U_FAILURE(status) || !bi_)
      throw error(
          std::string("cannot create ICU's grapheme break iterator: ") + u_errorName(status),
          "check that the ICU data library (libicu72) is installed");
  }
}

UnitSegmenter::~UnitSegmenter() {
  utext_close(&ut_);
}

void UnitSegmenter::set_window(std::size_t start) {
  win_start_ = start;
  win_end_ = std::min(text_.size(), start + window_);
  // End the window on a code point boundary: ICU would read a cut sequence as U+FFFD and place
  // breaks around it.
  while (win_end_ < text_.size() && win_end_ > start + 1 &&
         (static_cast<unsigned char>(text_[win_end_]) & 0xC0) == 0x80)
    --win_end_;
  UErrorCode status = U_ZERO_ERROR;
  utext_openUTF8(&ut_, text_.data() + win_start_, static_cast<int64_t>(win_end_ - win_start_),
                 &status);
  bi_->setText(&ut_, status);
  if (U_FAILURE(status))
    throw error(std::string("ICU could not segment the text: ") + u_errorName(status));
  bi_->first();
  icu_synced_ = true;
}

void UnitSegmenter::reset(std::string_view text) {
  text_ = text;
  pos_ = 0;
  win_start_ = win_end_ = 0;
  icu_synced_ = false;
  if (kind_ == UnitKind::grapheme && !text_.empty()) set_window(0);
}

bool UnitSegmenter::next(std::string_view& unit) {
  const std::size_t n = text_.size();
  if (pos_ >= n) return false;
  std::size_t end = pos_ + 1;
  if (kind_ == UnitKind::codepoint) {
    end = std::min(n, pos_ + utf8_length(static_cast<unsigned char>(text_[pos_])));
  } else if (kind_ == UnitKind::grapheme) {
    const auto c = static_cast<unsigned char>(text_[pos_]);
    const auto d = pos_ + 1 < n ? static_cast<unsigned char>(text_[pos_ + 1]) : 0xFF;
    // Fast path: two ASCII characters always have a cluster boundary between them, except CR LF
    // (UAX #29 GB3); the one before c is known because pos_ is a boundary. Most corpora are
    // largely ASCII, and ICU costs far more per character.
    if (c < 0x80 && d < 0x80 && !(c == '\r' && d == '\n')) {
      end = pos_ + 1;
      icu_synced_ = false;
    } else {
      if (pos_ >= win_end_) set_window(pos_);
      auto rel = static_cast<int32_t>(pos_ - win_start_);
      int32_t b = icu_synced_ ? bi_->next() : bi_->following(rel);
      end = win_start_ + static_cast<std::size_t>(b);
      if (b == icu::BreakIterator::DONE) end = win_end_;
      if (end >= win_end_ && win_end_ < n && pos_ > win_start_) {
        // The cluster may continue past the window: look again from its start.
        set_window(pos_);
        b = bi_->next();
        end = win_start_ + static_cast<std::size_t>(b);
      }
      icu_synced_ = true;
    }
  }
  unit = text_.substr(pos_, end - pos_);
  pos_ = end;
  return true;
}

bool UnitSegmenter::next_run(std::string_view& run, bool& singles) {
  const std::size_t n = text_.size();
  if (pos_ >= n) return false;
  std::size_t end = pos_;
  if (kind_ == UnitKind::byte) {
    end = n;
  } else if (kind_ == UnitKind::codepoint) {
    while (end < n && static_cast<unsigned char>(text_[end]) < 0x80) ++end;
  } else {
    // An ASCII character is a cluster of its own when the next one is ASCII too (except CR LF)
    // or the text ends; pos_ being a boundary covers the side before it (see next()).
    while (end < n) {
      const auto c = static_cast<unsigned char>(text_[end]);
      if (c >= 0x80) break;
      if (end + 1 < n) {
        const auto d = static_cast<unsigned char>(text_[end + 1]);
        if (d >= 0x80 || (c == '\r' && d == '\n')) break;
      }
      ++end;
    }
  }
  if (end > pos_) {
    run = text_.substr(pos_, end - pos_);
    pos_ = end;
    icu_synced_ = false;
    singles = true;
    return true;
  }
  next(run);
  singles = run.size() == 1;
  return true;
}

std::size_t UnitSegmenter::last_inner_boundary(std::string_view text) {
  if (text.empty()) return 0;
  std::size_t start = text.size() > window_ ? text.size() - window_ : 0;
  while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
  text_ = text;
  set_window(start);
  icu_synced_ = false;
  bi_->last();
  int32_t b = bi_->previous();
  if (b == icu::BreakIterator::DONE || b <= 0) return start;
  return start + static_cast<std::size_t>(b);
}

}  // namespace detail

void for_each_unit(std::string_view text, UnitKind kind,
                   const std::function<void(std::string_view unit)>& fn) {
  detail::UnitSegmenter seg(kind);
  seg.reset(text);
  std::string_view unit;
  while (seg.next(unit)) fn(unit);
}

std::vector<std::uint64_t> unit_boundaries(std::string_view text, UnitKind kind) {
  std::vector<std::uint64_t> out;
  out.reserve(kind == UnitKind::byte ? text.size() + 1 : text.size() / 2 + 2);
  detail::UnitSegmenter seg(kind);
  seg.reset(text);
  std::string_view unit;
  while (seg.next(unit)) out.push_back(static_cast<std::uint64_t>(unit.data() - text.data()));
  out.push_back(text.size());
  return out;
}

}  // namespace charnn
