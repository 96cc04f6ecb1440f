// The checks that prove a cell plugin right, through the host's charnn::Cell only (no knowledge
// of what its parameters mean): `charnn check-cell` runs them on one plugin, and the test suite
// runs the same code on every plugin it finds.
#pragma once

#include <charnn/cell.hpp>
#include <charnn/gradcheck.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace charnn {

class PluginRegistry;

// One row of check_cell's table.
struct CellCheck {
  std::string name;      // "gradient: parameters"
  double worst = 0;      // the largest error measured; NaN when the check measures none
  double tolerance = 0;  // the most it may be; NaN when not a measured check
  bool passed = false;
  std::string detail;  // where the worst error is, or what is wrong
};

struct CellCheckOptions {
  std::int64_t input = 5, hidden = 4;  // the layer the numeric checks run on
  std::int64_t T = 3, N = 2;
  std::uint64_t seed = 42;
  bool learning = true;  // train a one-layer model on a tiny built-in text (about a second)
};

// Every check on the cell plugin `name` of `plugins`, in a fixed order: creating and describing
// layers, finite outputs, the gradients, the state carried across segments, step against
// forward, trace against forward, backward accumulating, the thread count, and learning. A
// check that throws fails with the plugin's message; none stops the others.
std::vector<CellCheck> check_cell(const PluginRegistry& plugins, std::string_view name,
                                  const CellCheckOptions& options = {});

}  // namespace charnn
