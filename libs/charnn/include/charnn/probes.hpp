// Probes: feature functions over the units of a text, the "questions" inspection asks of every
// hidden unit (is this unit inside quotes? how far into the line are we?). Each probe gives one
// value per unit, describing the text AFTER reading that unit, which is what a recurrent state
// computed from units 0..t can know. Binary probes are 0/1 (scored with Pearson r and AUROC),
// continuous probes are counts (scored with Pearson r).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace charnn {

enum class ProbeKind : std::uint8_t { binary = 0, continuous = 1 };

struct Probe {
  std::string name;         // "in_quotes", or the NAME of --probe NAME=REGEX
  std::string description;  // one line for reports
  ProbeKind kind = ProbeKind::binary;
  std::vector<float> values;  // (units): the probe's value after reading each unit
};

// All probe functions take cleaned text (text.hpp) and its unit boundaries as returned by
// unit_boundaries(text, kind): boundaries.size() == units + 1, boundaries.back() == text.size().
// A unit is classified by its first code point (a grapheme "e + combining acute" is a letter).

// 1 inside double quotes. A straight " toggles; a curly “ opens and ” closes. The opening quote
// itself is inside (1), the closing quote is outside (0): after reading it the quote is over.
// Unmatched quotes are common in prose (a speech running over several paragraphs reopens the
// quote at each paragraph without closing it), so the state resets to outside at a blank line
// (a newline that follows a line holding only whitespace).
std::vector<float> probe_in_quotes(std::string_view text,
                                   std::span<const std::uint64_t> boundaries);
// Units since the last newline: 0 on the newline itself, 1 on the first unit of a line.
std::vector<float> probe_column(std::string_view text, std::span<const std::uint64_t> boundaries);
// Units still to come before the next newline (the newline not counted); on a newline, the
// length of the line that follows. The last line without a newline counts to the end of text.
std::vector<float> probe_line_left(std::string_view text,
                                   std::span<const std::uint64_t> boundaries);
// Nesting depth inside ( ) [ ] { } after the unit: an opening bracket is at depth >= 1, the
// matching closing bracket back at the outer depth. An unmatched closing bracket is ignored
// (depth never goes below 0); depth resets at a blank line, like quotes.
std::vector<float> probe_bracket_depth(std::string_view text,
                                       std::span<const std::uint64_t> boundaries);
// 1 on a letter or digit whose previous unit is not a letter, digit, apostrophe or hyphen
// joined to a word ("don't" and "well-known" are one word each).
std::vector<float> probe_word_start(std::string_view text,
                                    std::span<const std::uint64_t> boundaries);
// 1 on the units between a sentence end and the next sentence's first letter or digit: a
// terminator . ! ? (closing quotes and brackets may follow it) then whitespace, as in
// 'said. "Well' (1 on ' ', '"'). A terminator not followed by whitespace ("3.14", "e.g.x") does
// not count, nor does the terminator itself.
std::vector<float> probe_after_sentence(std::string_view text,
                                        std::span<const std::uint64_t> boundaries);

// The built-in probes above, in this order: in_quotes, column, line_left, bracket_depth,
// word_start, after_sentence.
std::vector<Probe> builtin_probes(std::string_view text, std::span<const std::uint64_t> boundaries);

// A user probe from --probe NAME=REGEX. NAME: letters, digits, '_', '-', '.'; REGEX: ICU syntax.
struct ProbeSpec {
  std::string name;
  std::string pattern;
};
// Throws charnn::error (hint: the expected form) when there is no '=' or the name is bad.
ProbeSpec parse_probe_spec(std::string_view spec);
// Binary probe: 1 for every unit that overlaps a match of the pattern (ICU RegexMatcher over the
// whole text, so a pattern may span lines with (?s) or \n). Empty matches mark nothing. Throws
// charnn::error naming the probe (as `option`, by default "--probe NAME") and the position in
// the pattern when it does not compile.
Probe regex_probe(const ProbeSpec& spec, std::string_view text,
                  std::span<const std::uint64_t> boundaries, const std::string& option = {});

// Selections for the hypothesis search (inspect --select, --select-span): binary probes marking
// what the user thinks a neuron tracks, ranked by thresholded on/off matching (ranking.hpp).
// --select REGEX: 1 on every unit overlapping a match, as regex_probe; named "/REGEX/".
Probe select_regex(std::string_view pattern, std::string_view text,
                   std::span<const std::uint64_t> boundaries);
// --select-span FROM:TO: 1 on units [FROM, TO) of a text of `units` units; named "units FROM:TO".
// Throws charnn::error (exit 2) naming the spec and the valid range unless it is two decimal
// integers with 0 <= FROM < TO <= units.
Probe select_span(std::string_view spec, std::int64_t units);

}  // namespace charnn
