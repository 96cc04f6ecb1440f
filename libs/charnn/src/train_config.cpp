// What the option table (train_options.cpp) gives besides command-line parsing (that is in
// apps/charnn/cmd_train.cpp): the checkpoint's config.* keys, config.json, validation, the
// names messages use, and the --time format. See train_config.hpp.
#include "charnn/train_config.hpp"
#include "util.hpp"

#include <charnn/error.hpp>

#include <charnn/json.hpp>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace charnn {

namespace {

using G = TrainOptionGroup;

// "--seq-len" for "seq-len,T"; "the corpus" for the positional files; the key otherwise.
std::string row_name(const TrainOption& o) {
  if (o.group == G::positional) return "the corpus";
  if (!o.flag) return o.key;
  std::string flag = o.flag;
  return "--" + flag.substr(0, flag.find(','));
}

}  // namespace

std::string option_name(const std::string& key) {
  std::vector<std::string> names;
  for (const auto& o : train_options())
    if (o.key && key == o.key) names.push_back(row_name(o));
  if (!names.empty()) return detail::join(names, "/");
  for (const auto& o : train_options())  // options kept in no file: --out, --resume, --threads
    if (o.flag && row_name(o) == "--" + key) return row_name(o);
  return key;
}

void validate(const TrainConfig& c) {
  // The corpus first: with no files, nothing else matters.
  for (int pass = 0; pass < 2; ++pass)
    for (const auto& o : train_options()) {
      if (!o.check || (o.group == G::positional) != (pass == 0)) continue;
      TrainOptionProblem p = o.check(c, row_name(o));
      if (!p.what.empty()) throw error(p.what, p.hint, 2);  // a usage error, like a bad flag
    }
}

std::map<std::string, std::string> config_to_keys(const TrainConfig& c) {
  std::map<std::string, std::string> keys;
  for (const auto& o : train_options())
    if (o.key && o.get) keys[o.key] = o.get(c);
  return keys;
}

TrainConfig config_from_keys(const std::map<std::string, std::string>& keys,
                             const std::filesystem::path& source) {
  TrainConfig c;
  for (const auto& o : train_options()) {
    if (!o.key || !o.get) continue;
    const auto it = keys.find(o.key);
    if (it == keys.end() && !o.missing)
      throw error(source.string() + ": the training config has no '" + o.key + "' entry",
                  "the checkpoint was written by an incompatible charnn");
    try {
      o.set(c, it == keys.end() ? o.missing : it->second);
    } catch (const error& e) {
      throw error(source.string() + ": config entry '" + o.key + "': " + e.what());
    }
  }
  return c;
}

std::string config_to_json(const TrainConfig& config) {
  Json json = Json::object();
  for (const auto& [key, text] : config_to_keys(config)) {
    // Numbers stay numbers (a reader can use them directly); lists and names are strings.
    std::int64_t i = 0;
    double d = 0;
    const char* end = text.data() + text.size();
    if (!text.empty() && std::from_chars(text.data(), end, i).ptr == end)
      json[key] = i;
    else if (!text.empty() && std::from_chars(text.data(), end, d).ptr == end && std::isfinite(d))
      json[key] = d;
    else
      json[key] = text;
  }
  // A corpus path is bytes, not always UTF-8: replaced, never a failed run.
  return json_pretty(json) + "\n";
}

double parse_duration(std::string_view text) {
  const std::string s(text);
  auto fail = [&](const char* why) -> double {
    throw error("bad duration '" + s + "'" + why,
                "use a number with a unit: 90s, 15m, 1.5h, 2h30m (a bare number is seconds)");
  };
  if (s.empty()) fail("");
  double total = 0;
  std::size_t i = 0;
  bool any = false;
  while (i < s.size()) {
    // from_chars, not stod: no locale's decimal comma, no spaces, hex, "inf" or "nan".
    double v = 0;
    const auto [end, ec] = std::from_chars(s.data() + i, s.data() + s.size(), v);
    if (ec != std::errc() || !std::isfinite(v) || v < 0) fail("");
    i = static_cast<std::size_t>(end - s.data());
    double unit = 1;
    if (i < s.size()) {
      const char u = s[i];
      if (u == 's')
        unit = 1;
      else if (u == 'm')
        unit = 60;
      else if (u == 'h')
        unit = 3600;
      else if (u == 'd')
        unit = 86400;
      else
        fail("");
      ++i;
    } else if (any) {
      fail(": a number after another needs its unit");  // "2h30" is ambiguous
    }
    total += v * unit;
    any = true;
  }
  if (!std::isfinite(total)) fail(": too long");
  return total;
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) seconds = 0;
  const auto s = static_cast<std::int64_t>(std::llround(seconds));
  char buf[64];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60));
  else if (s >= 60)
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  else
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  return buf;
}

}  // namespace charnn
