// Probe feature functions: one linear pass over the units each, classifying a unit by its first
// code point with ICU's character properties; user probes run an ICU regex over the whole text.
#include "charnn/probes.hpp"

#include <unicode/regex.h>
#include <unicode/uchar.h>
#include <unicode/utext.h>
#include <unicode/utf8.h>

#include <algorithm>
#include <memory>

#include "charnn/error.hpp"

namespace charnn {
namespace {

// The first code point of unit u (text is valid UTF-8: it was cleaned).
UChar32 first_code_point(std::string_view text, std::span<const std::uint64_t> b, std::size_t u) {
  const auto* s = reinterpret_cast<const std::uint8_t*>(text.data());
  std::int32_t i = 0;
  const auto len = static_cast<std::int32_t>(std::min<std::uint64_t>(b[u + 1] - b[u], 4));
  UChar32 c = 0;
  U8_NEXT(s + b[u], i, len, c);
  return c;
}

std::size_t unit_count(std::span<const std::uint64_t> b) {
  return b.empty() ? 0 : b.size() - 1;
}

bool is_space(UChar32 c) {
  return c != '\n' && u_isUWhiteSpace(c);
}

// Tracks whether the current line holds only whitespace so far, to spot blank lines.
struct BlankLine {
  bool only_space = true;
  // Call for every unit; returns true on a newline that ends a blank line.
  bool step(UChar32 c) {
    if (c == '\n') {
      bool blank = only_space;
      only_space = true;
      return blank;
    }
    if (!is_space(c)) only_space = false;
    return false;
  }
};

}  // namespace

std::vector<float> probe_in_quotes(std::string_view text,
                                   std::span<const std::uint64_t> boundaries) {
  const std::size_t n = unit_count(boundaries);
  std::vector<float> v(n);
  bool inside = false;
  BlankLine blank;
  for (std::size_t u = 0; u < n; ++u) {
    const UChar32 c = first_code_point(text, boundaries, u);
    if (c == '"') {
      inside = !inside;
    } else if (c == 0x201C) {  // “
      inside = true;
    } else if (c == 0x201D) {  // ”
      inside = false;
    }
    if (blank.step(c)) inside = false;
    v[u] = inside ? 1.0f : 0.0f;
  }
  return v;
}

std::vector<float> probe_column(std::string_view text, std::span<const std::uint64_t> boundaries) {
  const std::size_t n = unit_count(boundaries);
  std::vector<float> v(n);
  std::int64_t column = 0;
  for (std::size_t u = 0; u < n; ++u) {
    column = first_code_point(text, boundaries, u) == '\n' ? 0 : column + 1;
    v[u] = static_cast<float>(column);
  }
  return v;
}

std::vector<float> probe_line_left(std::string_view text,
                                   std::span<const std::uint64_t> boundaries) {
  const std::size_t n = unit_count(boundaries);
  std::vector<float> v(n);
  // Backwards: units_to_newline = units before the next newline, counting from u + 1.
  std::int64_t left = 0;
  for (std::size_t u = n; u-- > 0;) {
    v[u] = static_cast<float>(left);
    left = first_code_point(text, boundaries, u) == '\n' ? 0 : left + 1;
  }
  return v;
}

std::vector<float> probe_bracket_depth(std::string_view text,
                                       std::span<const std::uint64_t> boundaries) {
  const std::size_t n = unit_count(boundaries);
  std::vector<float> v(n);
  std::int64_t depth = 0;
  BlankLine blank;
  for (std::size_t u = 0; u < n; ++u) {
    const UChar32 c = first_code_point(text, boundaries, u);
    if (c == '(' || c == '[' || c == '{') ++depth;
    if ((c == ')' || c == ']' || c == '}') && depth > 0) --depth;
    if (blank.step(c)) depth = 0;
    v[u] = static_cast<float>(depth);
  }
  return v;
}

std::vector<float> probe_word_start(std::string_view text,
                                    std::span<const std::uint64_t> boundaries) {
  const std::size_t n = unit_count(boundaries);
  std::vector<float> v(n);
  UChar32 prev = ' ';
  for (std::size_t u = 0; u < n; ++u) {
    const UChar32 c = first_code_point(text, boundaries, u);
    const bool joined = u_isalnum(prev) || prev == '\'' || prev == 0x2019 || prev == '-';
    v[u] = (u_isalnum(c) && !joined) ? 1.0f : 0.0f;
    prev = c;
  }
  return v;
}

std::vector<float> probe_after_sentence(std::string_view text,
                                        std::span<const std::uint64_t> boundaries) {
  const std::size_t n = unit_count(boundaries);
  std::vector<float> v(n);
  enum { none, terminated, gap } state = none;
  for (std::size_t u = 0; u < n; ++u) {
    const UChar32 c = first_code_point(text, boundaries, u);
    if (u_isalnum(c)) {
      state = none;
    } else if (c == '.' || c == '!' || c == '?') {
      if (state != gap) state = terminated;  // "..." stays terminated; ". ." keeps the gap
    } else if (c == '\n' || is_space(c)) {
      if (state == terminated) state = gap;
    } else if (c == '"' || c == 0x201D || c == '\'' || c == 0x2019 || c == ')' || c == ']' ||
               c == '}') {
      // Closing punctuation after the terminator ('said."') keeps the sentence ended.
    } else if (state == terminated) {
      state = none;  // "e.g.-" or "3.x": not a sentence end
    }
    v[u] = state == gap ? 1.0f : 0.0f;
  }
  return v;
}

std::vector<Probe> builtin_probes(std::string_view text,
                                  std::span<const std::uint64_t> boundaries) {
  std::vector<Probe> p;
  p.push_back({"in_quotes", "inside double quotes (\" toggles, \u201C opens, \u201D closes)",
               ProbeKind::binary, probe_in_quotes(text, boundaries)});
  p.push_back({"column", "units since the last newline", ProbeKind::continuous,
               probe_column(text, boundaries)});
  p.push_back({"line_left", "units left before the next newline", ProbeKind::continuous,
               probe_line_left(text, boundaries)});
  p.push_back({"bracket_depth", "nesting depth inside ( ) [ ] { }", ProbeKind::continuous,
               probe_bracket_depth(text, boundaries)});
  p.push_back({"word_start", "first letter or digit of a word", ProbeKind::binary,
               probe_word_start(text, boundaries)});
  p.push_back({"after_sentence", "between a sentence end (. ! ?) and the next sentence",
               ProbeKind::binary, probe_after_sentence(text, boundaries)});
  return p;
}

ProbeSpec parse_probe_spec(std::string_view spec) {
  const std::string hint = "write --probe NAME=REGEX, e.g. --probe 'digits=[0-9]+'";
  const auto eq = spec.find('=');
  if (eq == std::string_view::npos)
    throw error("--probe '" + std::string(spec) + "' has no '=' between name and pattern", hint);
  ProbeSpec p{std::string(spec.substr(0, eq)), std::string(spec.substr(eq + 1))};
  if (p.name.empty()) throw error("--probe '" + std::string(spec) + "' has an empty name", hint);
  for (char c : p.name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.';
    if (!ok)
      throw error("--probe name '" + p.name + "' may only hold letters, digits, '_', '-' and '.'",
                  hint);
  }
  if (p.pattern.empty()) throw error("--probe " + p.name + " has an empty pattern", hint);
  return p;
}

Probe regex_probe(const ProbeSpec& spec, std::string_view text,
                  std::span<const std::uint64_t> boundaries, const std::string& option) {
  struct UTextCloser {
    void operator()(UText* t) const { utext_close(t); }
  };
  using UTextPtr = std::unique_ptr<UText, UTextCloser>;

  const std::string who = option.empty() ? "--probe " + spec.name : option;
  UErrorCode status = U_ZERO_ERROR;
  UParseError where{};
  UTextPtr pattern_text(utext_openUTF8(nullptr, spec.pattern.data(),
                                       static_cast<int64_t>(spec.pattern.size()), &status));
  std::unique_ptr<icu::RegexPattern> pattern(
      U_SUCCESS(status) ? icu::RegexPattern::compile(pattern_text.get(), 0, where, status)
                        : nullptr);
  if (U_FAILURE(status) || !pattern) {
    throw error(who + ": the pattern '" + spec.pattern + "' does not compile (" +
                    u_errorName(status) + " at line " + std::to_string(where.line) + ", offset " +
                    std::to_string(where.offset) + ")",
                "use ICU regular expression syntax (like Perl's); quote the option in the shell");
  }
  UTextPtr subject(
      utext_openUTF8(nullptr, text.data(), static_cast<int64_t>(text.size()), &status));
  std::unique_ptr<icu::RegexMatcher> matcher(pattern->matcher(status));
  if (U_FAILURE(status) || !matcher)
    throw error(who + ": cannot run the pattern (" + u_errorName(status) + ")");
  matcher->reset(subject.get());

  const std::size_t n = unit_count(boundaries);
  Probe p{spec.name, "matches /" + spec.pattern + "/", ProbeKind::binary, std::vector<float>(n)};
  while (matcher->find(status) && U_SUCCESS(status)) {
    // Native indices of a UTF-8 UText are byte offsets into text.
    const auto start = static_cast<std::uint64_t>(matcher->start64(status));
    const auto end = static_cast<std::uint64_t>(matcher->end64(status));
    if (end <= start) continue;
    // The unit holding byte `start`, then every unit that begins before `end`.
    auto u = static_cast<std::size_t>(
        std::upper_bound(boundaries.begin(), boundaries.end(), start) - boundaries.begin() - 1);
    for (; u < n && boundaries[u] < end; ++u) p.values[u] = 1.0f;
  }
  if (U_FAILURE(status))
    throw error(who + ": matching failed (" + u_errorName(status) + ")",
                "simplify the pattern (ICU stops runaway backtracking)");
  return p;
}

Probe select_regex(std::string_view pattern, std::string_view text,
                   std::span<const std::uint64_t> boundaries) {
  if (pattern.empty())
    throw error("--select has an empty pattern",
                "give the text to look for as a regex, e.g. "
                "--select '\\([^)]*\\)' for text in parentheses",
                2);
  std::string slashed(1, '/');  // appended: GCC 12 warns (-Wrestrict) on "/" + string
  slashed.append(pattern).push_back('/');
  Probe p = regex_probe({slashed, std::string(pattern)}, text, boundaries, "--select " + slashed);
  p.description = "units inside a match of " + slashed;
  return p;
}

Probe select_span(std::string_view spec, std::int64_t units) {
  const std::string range = "0:" + std::to_string(units);
  const std::string hint = "write --select-span FROM:TO with unit indices, FROM < TO, within " +
                           range + " (the HTML report shows a unit's index on hover)";
  const auto colon = spec.find(':');
  auto number = [&](std::string_view s, std::int64_t& out) {
    if (s.empty() || s.size() > 18) return false;
    out = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return false;
      out = out * 10 + (c - '0');
    }
    return true;
  };
  std::int64_t from = 0, to = 0;
  if (colon == std::string_view::npos || !number(spec.substr(0, colon), from) ||
      !number(spec.substr(colon + 1), to))
    throw error("--select-span '" + std::string(spec) + "' is not FROM:TO", hint, 2);
  if (from >= to || to > units)
    throw error("--select-span " + std::string(spec) + " is not a span of units inside the " +
                    std::to_string(units) + " analysed",
                hint, 2);
  Probe p{"units " + std::string(spec),
          "units " + std::to_string(from) + " to " + std::to_string(to) + " of the text",
          ProbeKind::binary, std::vector<float>(static_cast<std::size_t>(units))};
  std::fill(p.values.begin() + from, p.values.begin() + to, 1.0f);
  return p;
}

}  // namespace charnn
