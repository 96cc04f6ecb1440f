// `charnn train --ranks K`: the same training started through mpirun on this machine, with the
// settings these machines need (docs/multi-machine.md).
#pragma once

#include <string>
#include <vector>

namespace charnn::app {

// Runs `mpirun -np K ... charnn train ARGS` (ARGS without --ranks) and returns its exit status,
// passing SIGINT and SIGTERM on to the ranks, so that a stopped job saves its checkpoint and
// exits 130 or 143 as one process does. Throws charnn::error when it cannot start (no MPI in
// this build, no mpirun, fork failed).
int launch_ranks(int ranks, const std::vector<std::string>& train_args);

// The train arguments without --ranks K / --ranks=K.
std::vector<std::string> without_ranks_option(const std::vector<std::string>& args);

}  // namespace charnn::app
