// `charnn train --ranks K`: the same training started through mpirun on this machine, with the
// settings these machines need (docs/multi-machine.md).
#pragma once

#include <string>
#include <vector>

namespace charnn::app {

// Replaces this process with `mpirun -np K ... charnn train ARGS` (ARGS without --ranks); returns
// only by throwing charnn::error (no MPI in this build, no mpirun, exec failed).
[[noreturn]] void launch_ranks(int ranks, const std::vector<std::string>& train_args);

// The train arguments without --ranks K / --ranks=K.
std::vector<std::string> without_ranks_option(const std::vector<std::string>& args);

}  // namespace charnn::app
