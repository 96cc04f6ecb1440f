// Private to libs/charnn: the cleaning pipeline behind TextReader and clean_text (see text.cpp
// for its three stages). It is a class of its own so the reader only moves bytes in and out.
#pragma once

#include <charnn/error.hpp>
#include <charnn/text.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <unicode/normalizer2.h>

#include "text_internal.hpp"

namespace charnn::detail {

class Cleaner {
 public:
  explicit Cleaner(const TextOptions& options) : opt_(options), seg_(options.units) {
    if (opt_.normalize == Normalization::nfc) {
      UErrorCode status = U_ZERO_ERROR;
      nfc_ = icu::Normalizer2::getNFCInstance(status);
      if (U_FAILURE(status))
        throw error(std::string("cannot load ICU's NFC data: ") + u_errorName(status),
                    "check that the ICU data library (libicu72) is installed");
    }
  }

  // Starts a new input (a file, or "--seed"): positions restart and a BOM is allowed.
  void begin_source(std::string name) {
    source_ = std::move(name);
    offset_ = 0;
    line_ = 1;
    column_ = 1;
    at_start_ = true;
    pending_cr_ = false;
    carry_.clear();
    source_text_bytes_ = 0;
  }

  // Decodes the next raw bytes of the current source; last marks its end.
  void feed(std::string_view raw, bool last);

  // Bytes of text the current source has produced so far (after BOM stripping).
  std::uint64_t source_text_bytes() const { return source_text_bytes_; }

  // Moves the text that is ready into out. final: no input follows, flush everything.
  void take(std::string& out, bool final);

 private:
  // The steps of feed, in the order a chunk meets them.
  std::string_view join_carry(std::string_view raw);
  bool skip_bom(std::string_view in, bool last, std::size_t& i);
  void decode_line_end_or_nul(unsigned char b, std::size_t i);
  std::size_t decode_multibyte(std::string_view in, std::size_t i, bool last);

  [[noreturn]] void fail_nul(std::size_t i) const;
  void invalid(std::string_view in, std::size_t i, std::size_t len);
  std::size_t nfc_safe_end(const std::string& s) const;

  TextOptions opt_;
  const icu::Normalizer2* nfc_ = nullptr;
  UnitSegmenter seg_;

  std::string source_;
  std::uint64_t offset_ = 0;  // raw offset of the first byte not yet decoded (carry_ excluded)
  std::uint64_t line_ = 1, column_ = 1;
  bool at_start_ = true;
  bool pending_cr_ = false;  // the last decoded character was a CR
  std::uint64_t source_text_bytes_ = 0;
  std::string carry_;       // raw bytes of an incomplete sequence (or a possible BOM) at the end
  std::string work_;        // carry_ + new bytes, when there is a carry
  std::string decoded_;     // valid UTF-8 with clean line ends, not yet normalised
  std::string normalized_;  // normalised, not yet emitted
};

}  // namespace charnn::detail
