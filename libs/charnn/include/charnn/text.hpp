// Reading a corpus: decode and validate UTF-8, strip a BOM, normalise line ends and Unicode
// (NFC), and cut the text into the units the model sees (grapheme clusters, code points or
// bytes). Files are streamed in chunks so a multi-gigabyte corpus is never held twice.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace charnn {

enum class UnitKind : std::uint8_t { grapheme = 0, codepoint = 1, byte = 2 };
enum class Normalization : std::uint8_t { nfc = 0, none = 1 };
enum class OnInvalid : std::uint8_t { error = 0, replace = 1 };

struct TextOptions {
  UnitKind units = UnitKind::grapheme;
  Normalization normalize = Normalization::nfc;
  OnInvalid on_invalid = OnInvalid::error;  // replace: U+FFFD for each invalid sequence
  bool normalize_newlines = true;           // CR and CRLF become LF
};

// "grapheme" | "codepoint" | "byte" and back; parse throws charnn::error on other names.
std::string to_string(UnitKind kind);
UnitKind parse_unit_kind(std::string_view name);
std::string to_string(Normalization n);
Normalization parse_normalization(std::string_view name);
std::string to_string(OnInvalid o);
OnInvalid parse_on_invalid(std::string_view name);

// Streams the cleaned text of one or more files, concatenated in order. Each chunk is valid,
// normalised UTF-8 that ends on a unit boundary, so chunks can be segmented independently.
// Errors (missing file, directory, unreadable, empty, NUL bytes, invalid UTF-8) throw
// charnn::error naming the file and, for content errors, byte offset, line and column.
class TextReader {
 public:
  TextReader(std::vector<std::filesystem::path> files, TextOptions options,
             std::size_t chunk_bytes = 1 << 20);
  ~TextReader();
  TextReader(const TextReader&) = delete;
  TextReader& operator=(const TextReader&) = delete;
  // Replaces chunk with the next piece of text; false at the end of the last file.
  bool next(std::string& chunk);
  std::uint64_t bytes_read() const;   // raw input bytes consumed so far (for progress)
  std::uint64_t total_bytes() const;  // sum of the input file sizes

 private:
  struct Impl;
  Impl* impl_;
};

// The whole cleaned text of the files in one string.
std::string read_text(const std::vector<std::filesystem::path>& files, const TextOptions& options);

// Cleans text given in memory (a sampling seed, a test string) exactly as a file would be.
// source names it in error messages, e.g. "--seed".
std::string clean_text(std::string_view utf8, const TextOptions& options,
                       std::string_view source = "text");

// Calls fn for each unit of already-cleaned text, in order.
void for_each_unit(std::string_view text, UnitKind kind,
                   const std::function<void(std::string_view unit)>& fn);
// Byte offsets of unit starts, plus text.size() at the end (size = units + 1).
std::vector<std::uint64_t> unit_boundaries(std::string_view text, UnitKind kind);

// A unit made printable for terminals and reports: control characters, whitespace other than
// ' ', and lone combining marks become escapes such as "\n", "\t", "\u0301" (shown on a
// dotted circle where combining), so every unit is visible and unambiguous.
std::string escape_unit(std::string_view unit);

}  // namespace charnn
