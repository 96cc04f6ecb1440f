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
// This file holds the option names and the reader, which moves file bytes into the cleaner
// (text_cleaner.cpp); segmentation is in text_units.cpp and escaping in text_escape.cpp.
#include <charnn/error.hpp>
#include <charnn/text.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "text_cleaner.hpp"
#include "enum_names.hpp"

namespace charnn {

// ---------------------------------------------------------------------------------------------
// Names of the options.


namespace {
constexpr detail::EnumNames<UnitKind, 3> kUnitKindNames{{
    {UnitKind::grapheme, "grapheme"},
    {UnitKind::codepoint, "codepoint"},
    {UnitKind::byte, "byte"},
}};
}  // namespace

std::string to_string(UnitKind kind) {
  return detail::name_of(kUnitKindNames, kind);
}

UnitKind parse_unit_kind(std::string_view name) {
  if (auto value = detail::value_named(kUnitKindNames, name)) return *value;
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

}  // namespace charnn
