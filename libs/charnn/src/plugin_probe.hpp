// A plugin's first load, in a throwaway child process. The ELF check (charnn/detail/
// elf_check.hpp) refuses damaged headers and tables cheaply, but code is only proved by running
// it: a damaged constructor, relocation target or entry point crashes whoever loads the library.
// Loaded first in a child, it crashes the child, and charnn skips the library with the signal
// named, the way crash-isolating plugin hosts do.
#pragma once

#include <filesystem>
#include <string>

namespace charnn::detail {

// Loads `file` in a child process and does there what the host does next: calls the entry
// point, checks the table, creates a small cell and reads its descriptions. "" when the child
// got through, or stopped at a failure the real load will report with its own message; else
// why not ("it crashed (SIGSEGV) when loaded in a test process").
std::string probe_plugin_in_child(const std::filesystem::path& file);

}  // namespace charnn::detail
