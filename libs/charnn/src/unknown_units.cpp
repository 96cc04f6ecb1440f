// The one encoder for text read against a trained model's vocabulary (see unknown_units.hpp).
#include "charnn/unknown_units.hpp"

#include <algorithm>
#include <unordered_set>

#include "charnn/error.hpp"
#include "charnn/text.hpp"
#include "enum_names.hpp"

namespace charnn {

namespace {
constexpr detail::EnumNames<UnknownUnits, 3> kUnknownUnitsNames{
    {{UnknownUnits::error, "error"}, {UnknownUnits::skip, "skip"}, {UnknownUnits::map, "map"}}};
}  // namespace

UnknownUnits parse_unknown_units(std::string_view name) {
  return detail::parse_name(kUnknownUnitsNames, name, "unknown-unit policy");
}

std::string to_string(UnknownUnits u) {
  return detail::name_of(kUnknownUnitsNames, u);
}

EncodedUnits encode_units(std::string_view cleaned, const Vocab& vocab, UnknownUnits unknown,
                          std::string_view source) {
  EncodedUnits out;
  const auto bounds = unit_boundaries(cleaned, vocab.unit_kind());  // (units + 1)
  const std::size_t n = bounds.size() - 1;
  out.ids.reserve(n);
  out.spans.reserve(n);
  const bool map = unknown == UnknownUnits::map && vocab.has_unknown();
  std::unordered_set<std::string> seen;
  for (std::size_t u = 0; u < n; ++u) {
    const std::string_view unit = cleaned.substr(bounds[u], bounds[u + 1] - bounds[u]);
    std::optional<std::int32_t> id = vocab.find(unit);
    if (!id) {
      ++out.unknown_count;
      std::string escaped = escape_unit(unit);
      if (seen.insert(escaped).second) out.unknown.push_back(std::move(escaped));
      if (map) id = vocab.unknown_id();
    }
    if (id) {
      out.ids.push_back(*id);
      out.spans.emplace_back(bounds[u], bounds[u + 1]);
    }
  }
  if (out.unknown_count == 0 || unknown == UnknownUnits::skip || map) return out;

  std::string list;
  const std::size_t shown = std::min<std::size_t>(out.unknown.size(), 20);
  for (std::size_t i = 0; i < shown; ++i) list += (i ? ", '" : "'") + out.unknown[i] + "'";
  if (shown < out.unknown.size())
    list += " and " + std::to_string(out.unknown.size() - shown) + " more";
  const std::string what = std::string(source) + " has " + std::to_string(out.unknown_count) +
                           " unit(s) that are not in the model's vocabulary: " + list;
  if (unknown == UnknownUnits::error)
    throw error(what, vocab.has_unknown()
                          ? "leave them out, or use --unknown skip to drop them or --unknown map "
                            "to read them as the vocabulary's unknown symbol"
                          : "leave them out, or use --unknown skip to drop them");
  throw error(what + "; they cannot be mapped because the vocabulary has no unknown symbol",
              "use --unknown skip to drop them (a vocabulary gets an unknown symbol when it is "
              "built with --min-count or --max-vocab)");
}

}  // namespace charnn
