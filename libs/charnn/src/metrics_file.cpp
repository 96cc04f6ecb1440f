// See metrics_file.hpp.
#include "charnn/metrics_file.hpp"

#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <vector>

namespace charnn {

MetricsFile read_metrics_file(const std::filesystem::path& file) {
  MetricsFile m;
  std::ifstream in(file);
  std::string line;
  if (!in || !std::getline(in, line)) {
    m.problem = "no metrics.csv";
    return m;
  }
  std::map<std::string, std::size_t> col;
  {
    std::stringstream header(line);
    std::size_t i = 0;
    for (std::string name; std::getline(header, name, ',');) col[name] = i++;
  }
  for (const char* need : {"iteration", "epoch", "seconds", "valid_loss", "valid_units"})
    if (!col.count(need)) {
      m.problem = "metrics.csv has no " + std::string(need) + " column";
      return m;
    }
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  std::vector<std::size_t> unlabelled;  // validation rows without a `validation` cell
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::stringstream row(line);
    for (std::string cell; std::getline(row, cell, ',');) cells.push_back(cell);
    const auto text = [&](const char* name) -> std::string {
      const auto it = col.find(name);
      return it != col.end() && it->second < cells.size() ? cells[it->second] : std::string();
    };
    const auto real = [&](const char* name) {
      const std::string t = text(name);
      return t.empty() ? kNaN : std::stod(t);
    };
    const auto integer = [&](const char* name) -> std::int64_t {
      const std::string t = text(name);
      return t.empty() ? 0 : std::stoll(t);
    };
    try {
      MetricsRow r;
      r.iteration = std::stoll(text("iteration"));
      r.epoch = std::stod(text("epoch"));
      r.seconds = std::stod(text("seconds"));
      r.units = integer("units");
      r.lr = real("lr");
      r.train_loss = real("train_loss");
      r.grad_norm = real("grad_norm");
      r.valid_loss = real("valid_loss");
      r.units_per_second = real("units_per_second");
      r.valid_units = integer("valid_units");
      r.trained_valid_loss = real("trained_valid_loss");
      const std::string validation = text("validation");
      r.end_of_run = validation == "end";
      if (!std::isnan(r.valid_loss) && validation.empty()) unlabelled.push_back(m.rows.size());
      m.rows.push_back(r);
    } catch (const std::exception&) {
      m.problem = "metrics.csv has a damaged row";
    }
  }
  // Rows from before the column (a resumed run keeps them under the new header).
  std::int64_t slice = 0;
  for (const MetricsRow& r : m.rows)
    if (!std::isnan(r.valid_loss) && r.valid_units > 0 && (slice == 0 || r.valid_units < slice))
      slice = r.valid_units;
  for (const std::size_t i : unlabelled) m.rows[i].end_of_run = m.rows[i].valid_units > slice;
  return m;
}

}  // namespace charnn
