// Reading a corpus: UTF-8 validation with exact positions, BOM and line-end clean-up, NFC, and
// unit segmentation. The reader is a pipeline of three stages, each of which keeps back only the
// little it cannot decide yet:
//   raw bytes ──decode──► valid UTF-8, LF line ends   (carries an incomplete UTF-8 sequence;
//                                                      remembers a CR so a following LF is dropped)
//             ──NFC─────► normalised text             (carries the tail after the last code point
//                                                      with a normalisation boundary before it)
//             ──units───► chunk ending on a unit end  (carries the last grapheme cluster, which
//                                                      more input could still extend)
// Normalisation and segmentation run over the concatenation of the files, as if they were one
// text, so streaming gives exactly the text read_text would give.
#include <charnn/error.hpp>
#include <charnn/text.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/utf8.h>

#include "text_internal.hpp"

namespace charnn {

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

// ---------------------------------------------------------------------------------------------
// Names of the options.

std::string to_string(UnitKind kind) {
  switch (kind) {
    case UnitKind::grapheme:
      return "grapheme";
    case UnitKind::codepoint:
      return "codepoint";
    case UnitKind::byte:
      return "byte";
  }
  return "?";
}

UnitKind parse_unit_kind(std::string_view name) {
  if (name == "grapheme") return UnitKind::grapheme;
  if (name == "codepoint") return UnitKind::codepoint;
  if (name == "byte") return UnitKind::byte;
  throw error("unknown unit kind '" + std::string(name) + "'",
              "use grapheme (what people see as one character), codepoint or byte", 2);
}

std::string to_string(Normalization n) {
  return n == Normalization::nfc ? "nfc" : "none";
}

Normalization parse_normalization(std::string_view name) {
  if (name == "nfc") return Normalization::nfc;
  if (name == "none") return Normalization::none;
  throw error("unknown normalisation '" + std::string(name) + "'", "use nfc or none", 2);
}

std::string to_string(OnInvalid o) {
  return o == OnInvalid::error ? "error" : "replace";
}

OnInvalid parse_on_invalid(std::string_view name) {
  if (name == "error") return OnInvalid::error;
  if (name == "replace") return OnInvalid::replace;
  throw error("unknown --on-invalid policy '" + std::string(name) + "'",
              "use error (stop at the first invalid byte) or replace (substitute U+FFFD)", 2);
}

// ---------------------------------------------------------------------------------------------
// Segmentation.

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

// ---------------------------------------------------------------------------------------------
// The cleaning pipeline.

namespace detail {

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

void Cleaner::feed(std::string_view raw, bool last) {
  std::string_view in = raw;
  if (!carry_.empty()) {
    work_.assign(carry_);
    work_.append(raw);
    in = work_;
    carry_.clear();
  }
  const std::size_t n = in.size();
  std::size_t i = 0;
  const std::size_t before = decoded_.size();

  if (at_start_) {
    static constexpr std::string_view kBom = "\xEF\xBB\xBF";
    const std::size_t k = std::min(n, kBom.size());
    if (in.substr(0, k) == kBom.substr(0, k)) {
      if (k < kBom.size() && !last) {  // too short to tell yet
        carry_.assign(in);
        return;
      }
      if (k == kBom.size()) i = kBom.size();  // offsets still count the BOM's bytes
    }
    at_start_ = false;
  }

  const bool crlf_to_lf = opt_.normalize_newlines;
  while (i < n) {
    const auto b = static_cast<unsigned char>(in[i]);
    if (b < 0x80) {
      // A run of plain ASCII goes through in one append.
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
      ++i;
      continue;
    }
    // Multi-byte sequence: the lead byte fixes the length and the range of the first trail
    // byte (which excludes overlongs, surrogates and code points above U+10FFFF).
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
      if (i + k >= n) {
        if (!last) {  // the sequence continues in the next chunk
          carry_.assign(in.substr(i));
          offset_ += i;
          source_text_bytes_ += decoded_.size() - before;
          return;
        }
        ok = false;
        break;
      }
      const auto t = static_cast<unsigned char>(in[i + k]);
      if (t < (k == 1 ? lo : 0x80) || t > (k == 1 ? hi : 0xBF)) {
        ok = false;
        break;
      }
    }
    if (ok) {
      decoded_.append(in.data() + i, need + 1);
      ++column_;
      pending_cr_ = false;
      i += need + 1;
    } else {
      invalid(in, i, k);
      i += k;
    }
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

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// Files.

namespace {

// Checks that path names a readable, non-empty regular file and returns its size; throws
// charnn::error with the reason and a hint otherwise.
std::uint64_t check_input_file(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int e = errno;
    if (e == ENOENT || e == ENOTDIR)
      throw error("cannot read '" + path.string() + "': no such file",
                  "check the path; corpora/README.md lists the corpora and how to get them");
    if (e == EACCES)
      throw error("cannot read '" + path.string() + "': permission denied",
                  "check the permissions of the file and its directories (ls -l)");
    throw error("cannot read '" + path.string() + "': " + std::strerror(e));
  }
  if (S_ISDIR(st.st_mode))
    throw error("'" + path.string() + "' is a directory, not a text file",
                "pass the text files inside it, e.g. " + (path / "*.txt").string());
  // A pipe such as <(zcat corpus.gz) must not be opened twice (the writer would see its only
  // reader go away), so only regular files get a trial open; others are checked with access().
  const int fd = S_ISREG(st.st_mode) ? ::open(path.c_str(), O_RDONLY | O_CLOEXEC)
                                     : (::access(path.c_str(), R_OK) == 0 ? -2 : -1);
  if (fd == -1) {
    const int e = errno;
    if (e == EACCES)
      throw error("cannot read '" + path.string() + "': permission denied",
                  "check the permissions of the file (ls -l " + path.string() + ")");
    throw error("cannot read '" + path.string() + "': " + std::strerror(e));
  }
  if (fd >= 0) ::close(fd);
  if (S_ISREG(st.st_mode) && st.st_size == 0)
    throw error("'" + path.string() + "' is empty", "pass a file that contains UTF-8 text");
  return S_ISREG(st.st_mode) ? static_cast<std::uint64_t>(st.st_size) : 0;
}

}  // namespace

struct TextReader::Impl {
  Impl(std::vector<std::filesystem::path> f, const TextOptions& o, std::size_t chunk)
      : files(std::move(f)), cleaner(o), chunk_bytes(std::max<std::size_t>(chunk, 1)) {}
  ~Impl() {
    if (fd >= 0) ::close(fd);
  }

  // Reads the next raw chunk into the cleaner; false when every file has been read.
  bool pump();

  std::vector<std::filesystem::path> files;
  detail::Cleaner cleaner;
  std::size_t chunk_bytes;
  std::size_t next_file = 0;
  int fd = -1;
  std::string raw;
  std::uint64_t bytes_read = 0, total_bytes = 0;
  std::uint64_t file_bytes = 0;  // raw bytes read from the current file
  bool done = false;
};

bool TextReader::Impl::pump() {
  if (fd < 0) {
    if (next_file >= files.size()) return false;
    const auto& path = files[next_file];
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) check_input_file(path);  // explains why (it was fine when the reader started)
    if (fd < 0) throw error("cannot read '" + path.string() + "': " + std::strerror(errno));
#ifdef POSIX_FADV_SEQUENTIAL
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
    cleaner.begin_source(path.string());
    file_bytes = 0;
  }
  raw.resize(chunk_bytes);
  ssize_t got;
  do {
    got = ::read(fd, raw.data(), raw.size());
  } while (got < 0 && errno == EINTR);
  const auto& path = files[next_file];
  if (got < 0) {
    const int e = errno;
    if (e == EISDIR)
      throw error("'" + path.string() + "' is a directory, not a text file",
                  "pass the text files inside it");
    throw error("error reading '" + path.string() + "': " + std::strerror(e));
  }
  bytes_read += static_cast<std::uint64_t>(got);
  file_bytes += static_cast<std::uint64_t>(got);
  const bool eof = got == 0;
  cleaner.feed(std::string_view(raw.data(), static_cast<std::size_t>(got)), eof);
  if (eof) {
    ::close(fd);
    fd = -1;
    ++next_file;
    if (cleaner.source_text_bytes() == 0)
      throw error("'" + path.string() + "' contains no text" +
                      (file_bytes > 0 ? std::string(" (only a byte-order mark)") : ""),
                  "pass a file that contains UTF-8 text");
  }
  return true;
}

TextReader::TextReader(std::vector<std::filesystem::path> files, TextOptions options,
                       std::size_t chunk_bytes)
    : impl_(nullptr) {
  if (files.empty()) throw error("no input files", "name at least one UTF-8 text file");
  std::uint64_t total = 0;
  for (const auto& f : files) total += check_input_file(f);  // fail before reading anything
  impl_ = new Impl(std::move(files), options, chunk_bytes);
  impl_->total_bytes = total;
}

TextReader::~TextReader() {
  delete impl_;
}

bool TextReader::next(std::string& chunk) {
  chunk.clear();
  if (impl_->done) return false;
  for (;;) {
    const bool more = impl_->pump();
    impl_->cleaner.take(chunk, !more);
    if (!more) impl_->done = true;
    if (!chunk.empty()) return true;
    if (!more) return false;
  }
}

std::uint64_t TextReader::bytes_read() const {
  return impl_->bytes_read;
}
std::uint64_t TextReader::total_bytes() const {
  return impl_->total_bytes;
}

std::string read_text(const std::vector<std::filesystem::path>& files, const TextOptions& options) {
  TextReader reader(files, options);
  std::string text, chunk;
  text.reserve(reader.total_bytes() + reader.total_bytes() / 64);
  while (reader.next(chunk)) text.append(chunk);
  return text;
}

std::string clean_text(std::string_view utf8, const TextOptions& options, std::string_view source) {
  detail::Cleaner cleaner(options);
  cleaner.begin_source(std::string(source));
  cleaner.feed(utf8, true);
  std::string out;
  cleaner.take(out, true);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Showing units.

std::string escape_unit(std::string_view unit) {
  std::string out;
  auto escape_cp = [&](UChar32 c) {
    char buf[16];
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c <= 0xFFFF) {
      std::snprintf(buf, sizeof buf, "\\u%04X", static_cast<unsigned>(c));
      out += buf;
    } else {
      std::snprintf(buf, sizeof buf, "\\U%08X", static_cast<unsigned>(c));
      out += buf;
    }
  };
  const auto* s = reinterpret_cast<const uint8_t*>(unit.data());
  const auto len = static_cast<int32_t>(unit.size());
  int32_t i = 0;
  bool first = true;
  while (i < len) {
    const int32_t start = i;
    UChar32 c = 0;
    U8_NEXT(s, i, len, c);
    if (c < 0) {  // not UTF-8: a lone byte of a byte-unit vocabulary, for example
      for (int32_t k = start; k < i; ++k) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\x%02X", static_cast<unsigned>(s[k]));
        out += buf;
      }
      first = false;
      continue;
    }
    const int8_t type = u_charType(c);
    // Always invisible or layout-changing: controls, separators, whitespace other than ' '.
    bool escape = type == U_CONTROL_CHAR || type == U_LINE_SEPARATOR ||
                  type == U_PARAGRAPH_SEPARATOR || (type == U_SPACE_SEPARATOR && c != ' ') ||
                  (u_isUWhiteSpace(c) && c != ' ');
    // At the start of a unit (nothing to attach to, or shown alone): marks, format characters
    // such as ZWJ, private use and unassigned code points. Inside a cluster they stay as they are,
    // so "👨‍👩‍👧" keeps its joiners and Thai keeps its vowel marks.
    if (first && (type == U_NON_SPACING_MARK || type == U_ENCLOSING_MARK ||
                  type == U_COMBINING_SPACING_MARK || type == U_FORMAT_CHAR ||
                  type == U_PRIVATE_USE_CHAR || type == U_UNASSIGNED || type == U_SURROGATE))
      escape = true;
    if (c == '\\') {
      out += "\\\\";
    } else if (escape) {
      escape_cp(c);
    } else {
      out.append(unit.substr(static_cast<std::size_t>(start), static_cast<std::size_t>(i - start)));
    }
    first = false;
  }
  return out;
}

}  // namespace charnn
