// See table_options.hpp.
#include "table_options.hpp"

#include <charconv>
#include <string>
#include <vector>

namespace charnn::app {

namespace {

// The option's name in the variables map: "seq-len" for "seq-len,T".
std::string long_name(const TrainOption& o) {
  const std::string flag = o.flag;
  return flag.substr(0, flag.find(','));
}

// --help shows a real default ("0.02", not Boost's "0.02000000000000000004"): the table's text.
std::string shown_default(const TrainOption& o, const TrainConfig& defaults) {
  if (o.shown) return o.shown(defaults);
  return o.get ? o.get(defaults) : std::string();
}

// A Boost value for one row: typed for numbers, so bad numbers get the parser's usual message.
po::value_semantic* semantic(const TrainOption& o, const TrainConfig& defaults) {
  const std::string shown = shown_default(o, defaults);
  switch (o.kind) {
    case TrainValueKind::integer: {
      auto* v = po::value<long long>();
      if (!shown.empty()) v->default_value(std::stoll(shown), shown);
      v->value_name(o.value_name ? o.value_name : "N");
      return v;
    }
    case TrainValueKind::real: {
      auto* v = po::value<double>();
      if (!shown.empty()) v->default_value(std::stod(shown), shown);
      v->value_name(o.value_name ? o.value_name : "X");
      return v;
    }
    case TrainValueKind::switch_:
      return po::bool_switch();
    case TrainValueKind::text:
      break;
  }
  if (o.group == TrainOptionGroup::positional) return po::value<std::vector<std::string>>();
  auto* v = po::value<std::string>();
  if (!shown.empty()) v->default_value(shown);
  v->value_name(o.value_name ? o.value_name : "VALUE");
  return v;
}

// The values given for a row, as the text the table reads (a file list gives several).
std::vector<std::string> given_texts(const TrainOption& o, const po::variable_value& v) {
  switch (o.kind) {
    case TrainValueKind::integer:
      return {std::to_string(v.as<long long>())};
    case TrainValueKind::real: {
      char buf[64];
      const auto r = std::to_chars(buf, buf + sizeof buf, v.as<double>());
      return {std::string(buf, r.ptr)};
    }
    case TrainValueKind::switch_:
      return {"1"};
    case TrainValueKind::text:
      break;
  }
  if (o.group == TrainOptionGroup::positional) return v.as<std::vector<std::string>>();
  return {v.as<std::string>()};
}

}  // namespace

void add_table_options(po::options_description& options, TrainOptionGroup group,
                       const TrainConfig& defaults) {
  for (const auto& o : train_options())
    if (o.flag && o.group == group) options.add_options()(o.flag, semantic(o, defaults), o.help);
}

std::vector<std::string> apply_table_options(const po::variables_map& vm, TrainOptionGroup group,
                                             TrainConfig& config) {
  std::vector<std::string> applied;
  for (const auto& o : train_options()) {
    if (!o.flag || o.group != group) continue;
    const std::string name = long_name(o);
    if (!vm.count(name) || vm[name].defaulted()) continue;
    for (const auto& value : given_texts(o, vm[name]))
      (o.set_from_cli ? o.set_from_cli : o.set)(config, value);
    if (o.key) applied.emplace_back(o.key);
  }
  return applied;
}

}  // namespace charnn::app
