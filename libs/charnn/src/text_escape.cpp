// Showing units: escaping control characters, odd whitespace and lone marks so that every unit
// of a vocabulary is visible and unambiguous on a terminal or in a report.
#include <charnn/text.hpp>

#include <cstdint>
#include <cstdio>

#include <unicode/uchar.h>
#include <unicode/utf8.h>

namespace charnn {

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
