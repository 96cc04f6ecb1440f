// The check run on a plugin file before dlopen: every real library of this system passes, and
// cut-short or damaged copies of a real plugin are refused with a reason instead of crashing
// the loader. The damaged files are made here from the built plugin.
#include <charnn/detail/elf_check.hpp>

#include <catch2/catch.hpp>

#include <elf.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "training_support.hpp"

namespace fs = std::filesystem;
using charnn::detail::elf_file_problem;
using charnn::detail::elf_problem;
using charnn::test::read_file;
using charnn::test::ScratchDir;
using charnn::test::write_file;

namespace {

const fs::path kLstm = fs::path(CHARNN_PLUGIN_DIR) / "charnn-cell-lstm.so";

template <class T>
T get(const std::string& b, std::size_t off) {
  T v;
  std::memcpy(&v, b.data() + off, sizeof v);
  return v;
}
template <class T>
void put(std::string& b, std::size_t off, T v) {
  std::memcpy(b.data() + off, &v, sizeof v);
}

std::vector<Elf64_Phdr> segments(const std::string& b) {
  const auto eh = get<Elf64_Ehdr>(b, 0);
  std::vector<Elf64_Phdr> out;
  for (int i = 0; i < eh.e_phnum; ++i)
    out.push_back(get<Elf64_Phdr>(b, eh.e_phoff + i * sizeof(Elf64_Phdr)));
  return out;
}

// The file offset of the dynamic entry with `tag`.
std::size_t dynamic_entry(const std::string& b, std::int64_t tag) {
  for (const auto& p : segments(b))
    if (p.p_type == PT_DYNAMIC)
      for (std::size_t off = p.p_offset; off < p.p_offset + p.p_filesz; off += sizeof(Elf64_Dyn))
        if (get<Elf64_Dyn>(b, off).d_tag == tag) return off;
  FAIL("no dynamic entry " << tag);
  return 0;
}

// The file offset of an address (the built plugins map file offset == address per segment).
std::size_t offset_of(const std::string& b, std::uint64_t addr) {
  for (const auto& p : segments(b))
    if (p.p_type == PT_LOAD && addr >= p.p_vaddr && addr < p.p_vaddr + p.p_filesz)
      return p.p_offset + (addr - p.p_vaddr);
  FAIL("address " << addr << " is not in the file");
  return 0;
}

}  // namespace

TEST_CASE("the libraries of this system and the built plugins pass the ELF check",
          "[plugin][elf]") {
  CHECK(elf_file_problem(kLstm) == "");
  CHECK(elf_file_problem(fs::path(CHARNN_PLUGIN_DIR) / "charnn-cell-elman.so") == "");
  int checked = 0;
  std::error_code ec;
  for (const char* dir : {"/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/lib64"}) {
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      const std::string name = e.path().filename().string();
      if (checked >= 300 || name.find(".so") == std::string::npos || !e.is_regular_file(ec) ||
          e.file_size(ec) > (8u << 20))
        continue;
      const std::string bytes = read_file(e.path());
      // Linker scripts named .so (libc.so) and other non-ELF files are not libraries.
      if (bytes.compare(0, 4, "\x7f" "ELF") != 0 || get<Elf64_Ehdr>(bytes, 0).e_type != ET_DYN)
        continue;
      INFO(e.path());
      CHECK(elf_problem(bytes) == "");
      ++checked;
    }
  }
  CHECK(checked > 20);
}

TEST_CASE("a plugin cut short anywhere the loader reads is refused", "[plugin][elf]") {
  const std::string good = read_file(kLstm);
  REQUIRE(elf_problem(good) == "");
  std::uint64_t loaded_end = 0;  // past it are only section headers and debug data
  for (const auto& p : segments(good))
    if (p.p_type == PT_LOAD) loaded_end = std::max(loaded_end, p.p_offset + p.p_filesz);
  for (std::size_t len = 0; len < loaded_end; len += loaded_end / 97 + 1) {
    INFO(len);
    CHECK(elf_problem(good.substr(0, len)) != "");
  }
  CHECK_THAT(elf_problem(good.substr(0, 40)), Catch::Contains("cut short"));
  CHECK_THAT(elf_problem(good.substr(0, loaded_end / 2)), Catch::Contains("cut short"));
}

TEST_CASE("a damaged header or dynamic section is refused with what is wrong", "[plugin][elf]") {
  const std::string good = read_file(kLstm);
  auto damaged = [&](auto&& change) {
    std::string b = good;
    change(b);
    return elf_problem(b);
  };
  CHECK_THAT(elf_problem("hello, I am a text file"), Catch::Contains("ELF magic"));
  CHECK_THAT(damaged([](std::string& b) { b[EI_CLASS] = ELFCLASS32; }),
             Catch::Contains("32-bit"));
  CHECK_THAT(damaged([](std::string& b) { put<Elf64_Half>(b, 16, ET_EXEC); }),
             Catch::Contains("a program"));
  CHECK_THAT(damaged([](std::string& b) { put<Elf64_Half>(b, 18, EM_ARM); }),
             Catch::Contains("another processor"));
  CHECK_THAT(damaged([](std::string& b) { put<Elf64_Off>(b, 32, 1ull << 62); }),
             Catch::Contains("program headers"));
  CHECK_THAT(damaged([](std::string& b) {
               // The first load segment's file size made enormous.
               const auto phoff = get<Elf64_Ehdr>(b, 0).e_phoff;
               put<Elf64_Xword>(b, phoff + offsetof(Elf64_Phdr, p_filesz), ~0ull - 4);
             }),
             Catch::Contains("past the end"));
  CHECK_THAT(damaged([](std::string& b) {
               put<Elf64_Xword>(b, dynamic_entry(b, DT_STRSZ) + 8, 1ull << 40);
             }),
             Catch::Contains("string table"));
  CHECK_THAT(damaged([](std::string& b) {
               const auto at = get<Elf64_Dyn>(b, dynamic_entry(b, DT_GNU_HASH)).d_un.d_ptr;
               put<std::uint32_t>(b, offset_of(b, at), 0);  // zero buckets: a division by zero
             }),
             Catch::Contains("GNU hash"));
  CHECK_THAT(damaged([](std::string& b) {
               const auto at = get<Elf64_Dyn>(b, dynamic_entry(b, DT_RELA)).d_un.d_ptr;
               put<Elf64_Addr>(b, offset_of(b, at), 1ull << 39);  // the first relocation's target
             }),
             Catch::Contains("writes outside the library"));
  CHECK_THAT(damaged([](std::string& b) {
               put<Elf64_Addr>(b, dynamic_entry(b, DT_INIT) + 8, 0x10);
             }),
             Catch::Contains("initialiser"));
  CHECK_THAT(damaged([](std::string& b) {
               // Every DT_NULL (the section is padded with several) made an unknown tag.
               for (const auto& p : segments(b))
                 if (p.p_type == PT_DYNAMIC)
                   for (auto off = p.p_offset; off < p.p_offset + p.p_filesz; off += sizeof(Elf64_Dyn))
                     if (get<Elf64_Dyn>(b, off).d_tag == DT_NULL) put<Elf64_Sxword>(b, off, 0x7fffff);
             }),
             Catch::Contains("no end"));
}
