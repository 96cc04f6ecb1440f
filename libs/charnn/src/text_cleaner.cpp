// The cleaning pipeline: UTF-8 decoding and validation with exact error positions (byte offset,
// line, column), BOM and line-end clean-up, streaming NFC, and holding back the grapheme cluster
// that the next chunk could still extend.
#include "text_cleaner.hpp"

#include <algorithm>
#include <cstdio>

#include <unicode/bytestream.h>
#include <unicode/utf8.h>

namespace charnn::detail {

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD
// A run of text with no normalisation or grapheme boundary this long is pathological (e.g. a
// base letter followed by megabytes of combining marks); rather than buffer it all, the reader
// cuts it at a code point boundary, where NFC and segmentation may then differ from read_text.
constexpr std::size_t kMaxCarry = 16u << 20;

std::string hex_byte(unsigned char b) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02X", b);
  return buf;
}

}  // namespace

void Cleaner::fail_nul(std::size_t i) const {
  throw error(describe_position(source_, offset_ + i, line_, column_) +
                  ": NUL byte: this looks like a binary file, not UTF-8 text",
              "pass a plain-text file encoded as UTF-8");
}

// An invalid sequence of len bytes (its maximal valid prefix, as in the Unicode standard's
// "substitution of maximal subparts") starts at in[i].
void Cleaner::invalid(std::string_view in, std::size_t i, std::size_t len) {
  if (opt_.on_invalid == OnInvalid::replace) {
    decoded_.append(kReplacement);
    ++column_;
    pending_cr_ = false;
    return;
  }
  std::string bytes;
  for (std::size_t k = i; k < in.size() && k < i + std::max<std::size_t>(len + 1, 2) && k < i + 4;
       ++k) {
    if (!bytes.empty()) bytes += ' ';
    bytes += hex_byte(static_cast<unsigned char>(in[k]));
  }
  const bool truncated = i + len >= in.size();
  throw error(describe_position(source_, offset_ + i, line_, column_) + ": invalid UTF-8 (" +
                  (truncated ? "truncated sequence " : "bytes ") + bytes + ")",
              "convert the file to UTF-8 (e.g. iconv -f LATIN1 -t UTF-8 in > out), or use "
              "--on-invalid replace to substitute U+FFFD for invalid bytes");
}

// The bytes to decode: raw, after whatever the previous chunk left unfinished.
std::string_view Cleaner::join_carry(std::string_view raw) {
  if (carry_.empty()) return raw;
  work_.assign(carry_);
  work_.append(raw);
  carry_.clear();
  return work_;
}

// At the start of a source: moves i past a BOM. False when in is too short to tell yet; it is
// then kept in carry_ until more bytes come.
bool Cleaner::skip_bom(std::string_view in, bool last, std::size_t& i) {
  static constexpr std::string_view kBom = "\xEF\xBB\xBF";
  const std::size_t k = std::min(in.size(), kBom.size());
  if (in.substr(0, k) == kBom.substr(0, k)) {
    if (k < kBom.size() && !last) {
      carry_.assign(in);
      return false;
    }
    if (k == kBom.size()) i = kBom.size();  // offsets still count the BOM's bytes
  }
  at_start_ = false;
  return true;
}

// b, at raw position i, is one of the ASCII bytes that end a plain run: LF, CR or NUL.
void Cleaner::decode_line_end_or_nul(unsigned char b, std::size_t i) {
  const bool crlf_to_lf = opt_.normalize_newlines;
  if (b == '\n') {
    if (!(pending_cr_ && crlf_to_lf)) decoded_.push_back('\n');
    if (!pending_cr_) ++line_;  // CR LF is one line end
    column_ = 1;
    pending_cr_ = false;
  } else if (b == '\r') {
    decoded_.push_back(crlf_to_lf ? '\n' : '\r');
    ++line_;
    column_ = 1;
    pending_cr_ = true;
  } else {
    fail_nul(i);
  }
}

// Decodes the sequence that starts with the non-ASCII byte in[i], or substitutes or reports it
// if invalid. Returns the bytes used, or 0 when in ends inside a sequence that the next chunk
// may complete.
std::size_t Cleaner::decode_multibyte(std::string_view in, std::size_t i, bool last) {
  const auto b = static_cast<unsigned char>(in[i]);
  // The lead byte fixes the length and the range of the first trail byte (which excludes
  // overlongs, surrogates and code points above U+10FFFF).
  std::size_t need = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (b >= 0xC2 && b <= 0xDF) {
    need = 1;
  } else if (b == 0xE0) {
    need = 2, lo = 0xA0;
  } else if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF) {
    need = 2;
  } else if (b == 0xED) {
    need = 2, hi = 0x9F;
  } else if (b == 0xF0) {
    need = 3, lo = 0x90;
  } else if (b >= 0xF1 && b <= 0xF3) {
    need = 3;
  } else if (b == 0xF4) {
    need = 3, hi = 0x8F;
  }
  std::size_t k = 1;
  bool ok = need > 0;
  for (; ok && k <= need; ++k) {
    if (i + k >= in.size()) {
      if (!last) return 0;
      ok = false;
      break;
    }
    const auto t = static_cast<unsigned char>(in[i + k]);
    if (t < (k == 1 ? lo : 0x80) || t > (k == 1 ? hi : 0xBF)) {
      ok = false;
      break;
    }
  }
  if (!ok) {
    invalid(in, i, k);
    return k;
  }
  decoded_.append(in.data() + i, need + 1);
  ++column_;
  pending_cr_ = false;
  return need + 1;
}

void Cleaner::feed(std::string_view raw, bool last) {
  const std::string_view in = join_carry(raw);
  const std::size_t n = in.size();
  std::size_t i = 0;
  const std::size_t before = decoded_.size();
  if (at_start_ && !skip_bom(in, last, i)) return;

  while (i < n) {
    const auto b = static_cast<unsigned char>(in[i]);
    if (b < 0x80) {
      // A run of plain ASCII goes through in one append. Most corpora spend most of their time
      // here, so this loop stays inline rather than in a helper.
      std::size_t j = i;
      while (j < n) {
        const auto c = static_cast<unsigned char>(in[j]);
        if (c >= 0x80 || c == 0 || c == '\r' || c == '\n') break;
        ++j;
      }
      if (j > i) {
        decoded_.append(in.data() + i, j - i);
        column_ += j - i;
        pending_cr_ = false;
        i = j;
        continue;
      }
      decode_line_end_or_nul(b, i);
      ++i;
      continue;
    }
    const std::size_t used = decode_multibyte(in, i, last);
    if (used == 0) {  // the sequence continues in the next chunk
      carry_.assign(in.substr(i));
      offset_ += i;
      source_text_bytes_ += decoded_.size() - before;
      return;
    }
    i += used;
  }
  offset_ += n;
  source_text_bytes_ += decoded_.size() - before;
}

// Where the pending decoded text can be cut so that NFC of the parts equals NFC of the whole:
// before the last code point that has a normalisation boundary before it.
std::size_t Cleaner::nfc_safe_end(const std::string& s) const {
  std::size_t p = s.size();
  while (p > 0) {
    std::size_t q = p - 1;
    while (q > 0 && (static_cast<unsigned char>(s[q]) & 0xC0) == 0x80) --q;
    UChar32 c = 0;
    int32_t off = 0;
    U8_NEXT(reinterpret_cast<const uint8_t*>(s.data() + q), off, static_cast<int32_t>(p - q), c);
    if (c >= 0 && nfc_->hasBoundaryBefore(c)) return q;
    if (s.size() - q > kMaxCarry) return p;  // give up: cut at a code point boundary
    p = q;
  }
  return 0;
}

void Cleaner::take(std::string& out, bool final) {
  // Stage 2: NFC.
  if (nfc_ != nullptr) {
    const std::size_t safe = final ? decoded_.size() : nfc_safe_end(decoded_);
    // Code points below U+0300 (lead bytes below 0xCC) are all unchanged by NFC and never
    // combine with what precedes them, so text made only of them skips ICU. That is most of
    // most corpora in Latin script.
    const bool inert = std::all_of(decoded_.begin(), decoded_.begin() + static_cast<long>(safe),
                                   [](char c) { return static_cast<unsigned char>(c) < 0xCC; });
    if (safe > 0 && inert) {
      normalized_.append(decoded_, 0, safe);
      decoded_.erase(0, safe);
    } else if (safe > 0) {
      UErrorCode status = U_ZERO_ERROR;
      icu::StringByteSink<std::string> sink(&normalized_);
      nfc_->normalizeUTF8(0, icu::StringPiece(decoded_.data(), static_cast<int32_t>(safe)), sink,
                          nullptr, status);
      if (U_FAILURE(status))
        throw error(std::string("ICU failed to normalise the text: ") + u_errorName(status));
      decoded_.erase(0, safe);
    }
  } else if (normalized_.empty()) {
    normalized_.swap(decoded_);
  } else {
    normalized_.append(decoded_);
    decoded_.clear();
  }
  // Stage 3: keep back a grapheme cluster that the next input could extend.
  std::size_t emit = normalized_.size();
  if (!final && opt_.units == UnitKind::grapheme && !normalized_.empty()) {
    emit = seg_.last_inner_boundary(normalized_);
    if (emit == 0 && normalized_.size() > kMaxCarry) {
      emit = normalized_.size();
      while (emit > 0 && (static_cast<unsigned char>(normalized_[emit - 1]) & 0xC0) == 0x80) --emit;
      if (emit > 0) --emit;
    }
  }
  if (emit == normalized_.size()) {
    out.swap(normalized_);
    normalized_.clear();
  } else {
    out.assign(normalized_, 0, emit);
    normalized_.erase(0, emit);
  }
}

}  // namespace charnn::detail
