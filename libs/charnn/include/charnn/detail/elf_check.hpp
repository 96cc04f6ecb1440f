// Whether a file is a shared library this process can map, checked before dlopen touches it.
// glibc's loader trusts what it reads: a cut-short library makes it read past the end of a
// mapping (SIGBUS), a damaged offset makes it follow a wild pointer (SIGSEGV), a zero hash
// bucket count divides by zero. So everything the loader reads before it runs the library's own
// code is checked here against the file: the ELF header, the program headers, the dynamic
// section and the tables it names (strings, symbols, hash tables, relocations, versions,
// initialisers). Damage to the code itself is not found here; see plugin_probe.hpp.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace charnn::detail {

// "" when `bytes` look like a library for this machine the loader can map and relocate, else
// one line saying what is wrong ("segment 3 lies past the end of the file: ...").
std::string elf_problem(std::string_view bytes);

// The same for a file; a file that cannot be read is a problem too.
std::string elf_file_problem(const std::filesystem::path& file);

}  // namespace charnn::detail
