// Bytes to units: the cleaner (UTF-8 decoding, BOM, line ends, NFC, invalid input) under every
// option, fed whole and in two chunks split where the fuzzer says, which must agree; then the
// units, a vocabulary built from them and an encode/decode round trip.
#include <charnn/error.hpp>
#include <charnn/text.hpp>
#include <charnn/vocab.hpp>

#include <string>

#include "fuzz_support.hpp"
#include "text_cleaner.hpp"

namespace {

charnn::TextOptions options_from(std::uint8_t mode) {
  charnn::TextOptions o;
  o.units = static_cast<charnn::UnitKind>((mode & 3) % 3);
  o.normalize = (mode & 4) ? charnn::Normalization::nfc : charnn::Normalization::none;
  o.on_invalid = (mode & 8) ? charnn::OnInvalid::replace : charnn::OnInvalid::error;
  o.normalize_newlines = (mode & 16) != 0;
  return o;
}

// The cleaner fed in two chunks; "" and false when it threw.
bool clean_in_chunks(std::string_view raw, std::size_t cut, const charnn::TextOptions& o,
                     std::string& out) {
  try {
    charnn::detail::Cleaner cleaner(o);
    cleaner.begin_source("fuzz");
    std::string part;  // take() replaces what it is given
    cleaner.feed(raw.substr(0, cut), false);
    cleaner.take(part, false);
    out = part;
    cleaner.feed(raw.substr(cut), true);
    cleaner.take(part, true);
    out += part;
    return true;
  } catch (const charnn::error&) {
    out.clear();
    return false;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto in = charnn::fuzz::split_input(data, size);
  const charnn::TextOptions o = options_from(in.mode);
  std::string whole;
  bool ok = true;
  try {
    whole = charnn::clean_text(in.rest, o, "fuzz");
  } catch (const charnn::error&) {
    ok = false;
  }
  std::string chunked;
  const std::size_t cut = in.rest.empty() ? 0 : (in.mode >> 5) * in.rest.size() / 8;
  if (clean_in_chunks(in.rest, cut, o, chunked) != ok || (ok && chunked != whole))
    charnn::fuzz::broken_invariant();
  if (!ok || whole.empty()) return 0;

  const auto bounds = charnn::unit_boundaries(whole, o.units);
  if (bounds.back() != whole.size()) charnn::fuzz::broken_invariant();
  charnn::UnitCounter counter(o.units);
  counter.add_text(whole);
  const charnn::Vocab vocab = charnn::Vocab::build(counter, o);
  if (vocab.decode(vocab.encode(whole)) != whole) charnn::fuzz::broken_invariant();
  charnn::for_each_unit(whole, o.units, [](std::string_view u) { (void)charnn::escape_unit(u); });
  return 0;
}
