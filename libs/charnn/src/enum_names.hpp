// Names of enum values as one table per enum, so that parsing a name and printing a value read
// the same rows and cannot drift apart (not part of the public API).
#pragma once

#include <charnn/error.hpp>

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace charnn::detail {

template <class E>
struct EnumName {
  E value;
  std::string_view name;
};

template <class E, std::size_t N>
using EnumNames = std::array<EnumName<E>, N>;

// The value called `name`, or nothing when no row has it.
template <class E, std::size_t N>
std::optional<E> value_named(const EnumNames<E, N>& names, std::string_view name) {
  for (const auto& row : names)
    if (row.name == name) return row.value;
  return std::nullopt;
}

// The name of `value`; "?" for a value outside the table (a cast from a bad integer).
template <class E, std::size_t N>
std::string name_of(const EnumNames<E, N>& names, E value) {
  for (const auto& row : names)
    if (row.value == value) return std::string(row.name);
  return "?";
}

// "a, b, c": every name in table order, for a hint that lists the choices.
template <class E, std::size_t N>
std::string name_list(const EnumNames<E, N>& names) {
  std::string out;
  for (const auto& row : names) (out += out.empty() ? "" : ", ") += row.name;
  return out;
}

// The value called `name`; otherwise throws "<what> 'name' is not known" with the choices as
// the hint.
template <class E, std::size_t N>
E parse_name(const EnumNames<E, N>& names, std::string_view name, std::string_view what) {
  if (auto value = value_named(names, name)) return *value;
  throw error(std::string(what) + " '" + std::string(name) + "' is not known",
              "use one of: " + name_list(names));
}

}  // namespace charnn::detail
