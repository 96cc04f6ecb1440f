// See elf_check.hpp. Every offset, size and address below comes from the file, so each is
// checked against the file (or the memory the load segments map) before it is followed, with
// comparisons that cannot wrap around.
#include "charnn/detail/elf_check.hpp"

#include <elf.h>

#include <bit>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <vector>

namespace charnn::detail {

namespace {

static_assert(std::endian::native == std::endian::little, "the checks read little-endian ELF");

// The machine, and its relative and indirect-function relocation types (0: none known here).
#if defined(__x86_64__)
constexpr Elf64_Half kHostMachine = EM_X86_64;
constexpr std::uint64_t kRelative = R_X86_64_RELATIVE, kIrelative = R_X86_64_IRELATIVE;
#elif defined(__aarch64__)
constexpr Elf64_Half kHostMachine = EM_AARCH64;
constexpr std::uint64_t kRelative = R_AARCH64_RELATIVE, kIrelative = R_AARCH64_IRELATIVE;
#elif defined(__riscv)
constexpr Elf64_Half kHostMachine = EM_RISCV;
#elif defined(__powerpc64__)
constexpr Elf64_Half kHostMachine = EM_PPC64;
#else
constexpr Elf64_Half kHostMachine = EM_NONE;  // not checked
#endif
#if !defined(__x86_64__) && !defined(__aarch64__)
constexpr std::uint64_t kRelative = ~std::uint64_t{0}, kIrelative = ~std::uint64_t{0};  // none
#endif

constexpr std::uint64_t kMaxAddress = std::uint64_t{1} << 40;  // no plugin maps a terabyte
constexpr std::uint64_t kMaxCount = std::uint64_t{1} << 24;    // symbols, buckets, versions

#ifndef DT_RELRSZ  // glibc 2.36 loads DT_RELR; older headers may not name it
#define DT_RELRSZ 35
#define DT_RELR 36
#endif

struct Bad {
  std::string why;
};
[[noreturn]] void fail(std::string why) { throw Bad{std::move(why)}; }

std::string hex(std::uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

// The file and the memory its load segments map.
class Image {
 public:
  explicit Image(std::string_view bytes) : b_(bytes) {}

  bool in_file(std::uint64_t off, std::uint64_t len) const {
    return off <= b_.size() && len <= b_.size() - off;
  }
  template <class T>
  T read(std::uint64_t off) const {  // the caller has checked in_file(off, sizeof(T))
    T v;
    std::memcpy(&v, b_.data() + off, sizeof v);
    return v;
  }
  std::uint64_t size() const { return b_.size(); }
  const char* data() const { return b_.data(); }

  std::vector<Elf64_Phdr> loads;  // in ascending address order

  // Where in the file the bytes at addresses [addr, addr + len) come from, when one load
  // segment maps all of them from the file.
  std::optional<std::uint64_t> file_offset(std::uint64_t addr, std::uint64_t len) const {
    for (const auto& p : loads)
      if (addr >= p.p_vaddr && addr - p.p_vaddr <= p.p_filesz &&
          len <= p.p_filesz - (addr - p.p_vaddr))
        return p.p_offset + (addr - p.p_vaddr);
    return std::nullopt;
  }
  // Whether [addr, addr + len) lies in one load segment's memory (file-backed or zero-filled).
  bool mapped(std::uint64_t addr, std::uint64_t len) const {
    for (const auto& p : loads)
      if (addr >= p.p_vaddr && addr - p.p_vaddr <= p.p_memsz &&
          len <= p.p_memsz - (addr - p.p_vaddr))
        return true;
    return false;
  }
  bool executable(std::uint64_t addr) const {
    for (const auto& p : loads)
      if ((p.p_flags & PF_X) && addr >= p.p_vaddr && addr - p.p_vaddr < p.p_memsz) return true;
    return false;
  }
  // The file offset of a table at `addr` of `count` entries of `size` bytes, or a failure
  // naming `what`.
  std::uint64_t table(std::uint64_t addr, std::uint64_t count, std::uint64_t size,
                      const char* what) const {
    if (count > kMaxCount * 64) fail(std::string("damaged: the ") + what + " is implausibly long");
    const auto off = file_offset(addr, count * size);
    if (!off) fail(std::string("cut short or damaged: the ") + what + " at " + hex(addr) +
                   " lies outside the file");
    return *off;
  }

 private:
  std::string_view b_;
};

Elf64_Ehdr check_header(const Image& img, std::string_view bytes) {
  if (bytes.size() < SELFMAG || std::memcmp(bytes.data(), ELFMAG, SELFMAG) != 0)
    fail("not a shared library (it does not start with the ELF magic)");
  if (bytes.size() < sizeof(Elf64_Ehdr))
    fail("cut short: " + std::to_string(bytes.size()) + " bytes, not even a whole ELF header");
  const auto eh = img.read<Elf64_Ehdr>(0);
  if (eh.e_ident[EI_CLASS] == ELFCLASS32) fail("a 32-bit library; this charnn is 64-bit");
  if (eh.e_ident[EI_CLASS] != ELFCLASS64) fail("damaged ELF header (unknown class)");
  if (eh.e_ident[EI_DATA] != ELFDATA2LSB)
    fail("a big-endian library or a damaged ELF header; this machine is little-endian");
  if (eh.e_ident[EI_VERSION] != EV_CURRENT || eh.e_version != EV_CURRENT)
    fail("damaged ELF header (unknown version)");
  if (eh.e_type != ET_DYN)
    fail(eh.e_type == ET_EXEC ? "a program, not a shared library"
         : eh.e_type == ET_REL ? "an object file (.o), not a shared library; link it with -shared"
                               : "not a shared library (ELF type " + std::to_string(eh.e_type) + ")");
  if (kHostMachine != EM_NONE && eh.e_machine != kHostMachine)
    fail("built for another processor (ELF machine " + std::to_string(eh.e_machine) +
         ", this one is " + std::to_string(kHostMachine) + ")");
  if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 || eh.e_phnum == PN_XNUM)
    fail("damaged ELF header (program header table of " + std::to_string(eh.e_phnum) +
         " entries of " + std::to_string(eh.e_phentsize) + " bytes)");
  if (!img.in_file(eh.e_phoff, std::uint64_t{eh.e_phnum} * sizeof(Elf64_Phdr)))
    fail("cut short: the program headers lie past the end of the " +
         std::to_string(bytes.size()) + "-byte file");
  return eh;
}

// The program headers: every segment inside the file, load segments sane and in order.
// Returns the dynamic segment.
Elf64_Phdr check_segments(Image& img, const Elf64_Ehdr& eh) {
  std::optional<Elf64_Phdr> dynamic;
  for (std::uint64_t i = 0; i < eh.e_phnum; ++i) {
    const auto ph = img.read<Elf64_Phdr>(eh.e_phoff + i * sizeof(Elf64_Phdr));
    const std::string which = "segment " + std::to_string(i);
    if (!img.in_file(ph.p_offset, ph.p_filesz))
      fail("cut short or damaged: " + which + " (" + hex(ph.p_offset) + " + " +
           hex(ph.p_filesz) + " bytes) lies past the end of the " + std::to_string(img.size()) +
           "-byte file");
    const bool aligned = ph.p_align <= 1 || (std::has_single_bit(ph.p_align) &&
                                             (ph.p_vaddr - ph.p_offset) % ph.p_align == 0);
    if (ph.p_type == PT_LOAD || ph.p_type == PT_TLS) {
      if (ph.p_filesz > ph.p_memsz || !aligned || ph.p_vaddr >= kMaxAddress ||
          ph.p_memsz > kMaxAddress - ph.p_vaddr)
        fail("damaged: " + which + " has inconsistent sizes, addresses or alignment");
    }
    if (ph.p_type == PT_LOAD) {
      if (!img.loads.empty() &&
          ph.p_vaddr < img.loads.back().p_vaddr + img.loads.back().p_memsz)
        fail("damaged: load segments overlap or are out of order (" + which + ")");
      img.loads.push_back(ph);
    } else if (ph.p_type == PT_DYNAMIC) {
      if (dynamic) fail("damaged: two dynamic segments");
      dynamic = ph;
    }
  }
  if (img.loads.empty()) fail("damaged: no loadable segment");
  if (!dynamic) fail("not a shared library this loader can use (no dynamic segment)");
  for (std::uint64_t i = 0; i < eh.e_phnum; ++i) {  // now that the loads are known
    const auto ph = img.read<Elf64_Phdr>(eh.e_phoff + i * sizeof(Elf64_Phdr));
    if ((ph.p_type == PT_TLS || ph.p_type == PT_GNU_PROPERTY || ph.p_type == PT_DYNAMIC) &&
        !img.mapped(ph.p_vaddr, ph.p_memsz))
      fail("damaged: segment " + std::to_string(i) + " is not inside a load segment");
  }
  return *dynamic;
}

// The dynamic section's entries; tags that may repeat (DT_NEEDED) keep every value.
std::multimap<std::int64_t, std::uint64_t> read_dynamic(const Image& img, const Elf64_Phdr& dyn) {
  // The loader reads the section where it is mapped, so follow its address.
  const std::uint64_t n = dyn.p_filesz / sizeof(Elf64_Dyn);
  const std::uint64_t off = img.table(dyn.p_vaddr, n, sizeof(Elf64_Dyn), "dynamic section");
  std::multimap<std::int64_t, std::uint64_t> tags;
  for (std::uint64_t i = 0; i < n; ++i) {
    const auto d = img.read<Elf64_Dyn>(off + i * sizeof(Elf64_Dyn));
    if (d.d_tag == DT_NULL) return tags;
    tags.emplace(d.d_tag, d.d_un.d_val);
  }
  fail("damaged: the dynamic section has no end (DT_NULL)");
}

class DynamicCheck {
 public:
  DynamicCheck(const Image& img, std::multimap<std::int64_t, std::uint64_t> tags)
      : img_(img), tags_(std::move(tags)) {}

  void run() {
    strings();
    symbols();
    versions();
    for (const Relocations& t : relocation_tables()) relocations(t);
    relr();
    initialisers();
  }

 private:
  bool has(std::int64_t tag) const { return tags_.count(tag) > 0; }
  std::uint64_t get(std::int64_t tag, const char* what) const {
    const auto it = tags_.find(tag);
    if (it == tags_.end()) fail(std::string("damaged: the dynamic section has no ") + what);
    return it->second;
  }
  // A NUL-terminated string at `at` in the string table.
  void string_at(std::uint64_t at, const char* what) const {
    if (at >= strsz_ || !std::memchr(img_.data() + str_off_ + at, 0, strsz_ - at))
      fail(std::string("damaged: a ") + what + " name lies outside the string table");
  }

  void strings() {
    strsz_ = get(DT_STRSZ, "string table size");
    str_off_ = img_.table(get(DT_STRTAB, "string table"), strsz_, 1, "string table");
    for (std::int64_t tag : {DT_NEEDED, DT_SONAME, DT_RPATH, DT_RUNPATH}) {
      const auto [from, to] = tags_.equal_range(tag);
      for (auto it = from; it != to; ++it) string_at(it->second, "library or path");
    }
  }

  void symbols() {
    if (has(DT_SYMENT) && get(DT_SYMENT, "") != sizeof(Elf64_Sym))
      fail("damaged: symbols of " + std::to_string(get(DT_SYMENT, "")) + " bytes");
    if (!has(DT_GNU_HASH) && !has(DT_HASH)) fail("damaged: no symbol hash table");
    if (has(DT_GNU_HASH)) nsyms_ = std::max(nsyms_, gnu_hash_symbols(get(DT_GNU_HASH, "")));
    if (has(DT_HASH)) nsyms_ = std::max(nsyms_, sysv_hash_symbols(get(DT_HASH, "")));
    // The hash tables count only the symbols they hash: a library that exports nothing may say
    // its table ends before the undefined symbols its relocations name, which the loader then
    // reads as well (seen in Debian's libgrpc++_error_details).
    for (const Relocations& t : relocation_tables())
      for (std::uint64_t i = 0; i < t.count; ++i)
        nsyms_ = std::max<std::uint64_t>(nsyms_, ELF64_R_SYM(t.at(img_, i).r_info) + 1);
    const std::uint64_t off =
        img_.table(get(DT_SYMTAB, "symbol table"), nsyms_, sizeof(Elf64_Sym), "symbol table");
    for (std::uint64_t i = 0; i < nsyms_; ++i)
      string_at(img_.read<Elf64_Sym>(off + i * sizeof(Elf64_Sym)).st_name, "symbol");
  }

  std::uint64_t gnu_hash_symbols(std::uint64_t addr) const {
    const std::uint64_t off = img_.table(addr, 4, 4, "GNU hash table");
    const auto nbuckets = img_.read<std::uint32_t>(off);
    const auto symoffset = img_.read<std::uint32_t>(off + 4);
    const auto bloom = img_.read<std::uint32_t>(off + 8);
    if (nbuckets == 0 || nbuckets > kMaxCount || bloom == 0 || bloom > kMaxCount ||
        !std::has_single_bit(bloom) || symoffset > kMaxCount)
      fail("damaged: the GNU hash table's header");
    const std::uint64_t buckets_addr = addr + 16 + std::uint64_t{bloom} * 8;
    const std::uint64_t buckets = img_.table(buckets_addr, nbuckets, 4, "GNU hash table");
    std::uint32_t last = 0;
    for (std::uint64_t b = 0; b < nbuckets; ++b) {
      const auto first = img_.read<std::uint32_t>(buckets + 4 * b);
      if (first != 0 && first < symoffset) fail("damaged: a GNU hash bucket");
      last = std::max(last, first);
    }
    if (last == 0) return symoffset;
    // The chain of the highest bucket runs to the last symbol; each entry ends it with bit 0.
    const std::uint64_t chains = buckets_addr + 4 * std::uint64_t{nbuckets};
    for (std::uint64_t i = last;; ++i) {
      if (i - symoffset > kMaxCount) fail("damaged: a GNU hash chain without an end");
      const std::uint64_t at = img_.table(chains + 4 * (i - symoffset), 1, 4, "GNU hash chain");
      if (img_.read<std::uint32_t>(at) & 1) return i + 1;
    }
  }

  std::uint64_t sysv_hash_symbols(std::uint64_t addr) const {
    const std::uint64_t off = img_.table(addr, 2, 4, "hash table");
    const auto nbucket = img_.read<std::uint32_t>(off);
    const auto nchain = img_.read<std::uint32_t>(off + 4);
    if (nbucket == 0 || nbucket > kMaxCount || nchain > kMaxCount)
      fail("damaged: the hash table's header");
    const std::uint64_t n = 2 + std::uint64_t{nbucket} + nchain;
    img_.table(addr, n, 4, "hash table");
    for (std::uint64_t i = 2; i < n; ++i)
      if (img_.read<std::uint32_t>(off + 4 * i) >= nchain) fail("damaged: a hash table entry");
    return nchain;
  }

  // Version needs and definitions: chains of records linked by relative offsets.
  void versions() {
    std::uint32_t highest = 1;  // version indexes the symbols may use
    if (has(DT_VERNEED)) {
      std::uint64_t at = get(DT_VERNEED, "");
      const std::uint64_t n = has(DT_VERNEEDNUM) ? get(DT_VERNEEDNUM, "") : 0;
      if (n > kMaxCount) fail("damaged: version needs");
      for (std::uint64_t i = 0; i < n; ++i) {
        const auto vn = img_.read<Elf64_Verneed>(
            img_.table(at, 1, sizeof(Elf64_Verneed), "version needs"));
        if (vn.vn_version != 1) fail("damaged: a version need record");
        string_at(vn.vn_file, "version need");
        std::uint64_t aux = at + vn.vn_aux;
        for (std::uint32_t k = 0; k < vn.vn_cnt; ++k) {
          const auto a = img_.read<Elf64_Vernaux>(
              img_.table(aux, 1, sizeof(Elf64_Vernaux), "version needs"));
          string_at(a.vna_name, "version");
          highest = std::max<std::uint32_t>(highest, a.vna_other & 0x7fff);
          if (a.vna_next == 0) break;  // where the loader stops too
          aux += a.vna_next;
        }
        if (vn.vn_next == 0) break;
        at += vn.vn_next;
      }
    }
    if (has(DT_VERDEF)) {
      std::uint64_t at = get(DT_VERDEF, "");
      const std::uint64_t n = has(DT_VERDEFNUM) ? get(DT_VERDEFNUM, "") : 0;
      if (n > kMaxCount) fail("damaged: version definitions");
      for (std::uint64_t i = 0; i < n; ++i) {
        const auto vd = img_.read<Elf64_Verdef>(
            img_.table(at, 1, sizeof(Elf64_Verdef), "version definitions"));
        if (vd.vd_version != 1) fail("damaged: a version definition record");
        std::uint64_t aux = at + vd.vd_aux;
        for (std::uint32_t k = 0; k < vd.vd_cnt; ++k) {
          const auto a = img_.read<Elf64_Verdaux>(
              img_.table(aux, 1, sizeof(Elf64_Verdaux), "version definitions"));
          string_at(a.vda_name, "version");
          if (a.vda_next == 0) break;
          aux += a.vda_next;
        }
        highest = std::max<std::uint32_t>(highest, vd.vd_ndx & 0x7fff);
        if (vd.vd_next == 0) break;
        at += vd.vd_next;
      }
    }
    if (has(DT_VERSYM)) {
      const std::uint64_t off = img_.table(get(DT_VERSYM, ""), nsyms_, 2, "symbol versions");
      for (std::uint64_t i = 0; i < nsyms_; ++i)
        if ((img_.read<std::uint16_t>(off + 2 * i) & 0x7fff) > highest)
          fail("damaged: a symbol names a version the library does not list");
    }
  }

  // One REL or RELA table, placed and sized (read as Rela either way: Rel is its first fields).
  struct Relocations {
    const char* what;
    bool rela;
    std::uint64_t off = 0, count = 0;
    Elf64_Rela at(const Image& img, std::uint64_t i) const {
      Elf64_Rela r{};
      if (rela)
        r = img.read<Elf64_Rela>(off + i * sizeof(Elf64_Rela));
      else
        std::memcpy(&r, img.data() + off + i * sizeof(Elf64_Rel), sizeof(Elf64_Rel));
      return r;
    }
  };
  std::vector<Relocations> relocation_tables() const {
    std::vector<Relocations> out;
    auto add = [&](const char* what, std::int64_t table_tag, std::int64_t size_tag, bool rela) {
      if (!has(table_tag)) return;
      const std::uint64_t entry = rela ? sizeof(Elf64_Rela) : sizeof(Elf64_Rel);
      if (rela && has(DT_RELAENT) && get(DT_RELAENT, "") != entry)
        fail("damaged: relocations of the wrong size");
      const std::uint64_t bytes = get(size_tag, what);
      if (bytes % entry) fail(std::string("damaged: the ") + what + " size");
      out.push_back({what, rela, img_.table(get(table_tag, what), bytes / entry, entry, what),
                     bytes / entry});
    };
    add("RELA relocation table", DT_RELA, DT_RELASZ, true);
    add("REL relocation table", DT_REL, DT_RELSZ, false);
    if (has(DT_JMPREL))
      add("PLT relocation table", DT_JMPREL, DT_PLTRELSZ,
          !has(DT_PLTREL) || get(DT_PLTREL, "") == DT_RELA);
    return out;
  }

  // Every symbol a relocation names is inside the table symbols() checked.
  void relocations(const Relocations& t) {
    for (std::uint64_t i = 0; i < t.count; ++i) {
      const Elf64_Rela r = t.at(img_, i);
      if (!img_.mapped(r.r_offset, 8))
        fail(std::string("damaged: the ") + t.what + " writes outside the library (" +
             hex(r.r_offset) + ")");
      const auto type = ELF64_R_TYPE(r.r_info);
      if (type == kRelative) relative_[r.r_offset] = static_cast<std::uint64_t>(r.r_addend);
      if (type == kIrelative && !img_.executable(static_cast<std::uint64_t>(r.r_addend)))
        fail("damaged: an indirect function resolver outside the code");
    }
  }

  // DT_RELR: an address word, then bitmap words each covering the next 63 words.
  void relr() {
    if (!has(DT_RELR)) return;
    const std::uint64_t bytes = get(DT_RELRSZ, "RELR size");
    if (bytes % 8) fail("damaged: the RELR table size");
    const std::uint64_t off = img_.table(get(DT_RELR, ""), bytes / 8, 8, "RELR table");
    std::uint64_t where = 0;
    for (std::uint64_t i = 0; i < bytes / 8; ++i) {
      const auto w = img_.read<std::uint64_t>(off + 8 * i);
      if ((w & 1) == 0) {
        if (!img_.mapped(w, 8)) fail("damaged: the RELR table writes outside the library");
        where = w + 8;
        continue;
      }
      for (std::uint64_t bits = w >> 1, k = 0; bits; bits >>= 1, ++k)
        if ((bits & 1) && !img_.mapped(where + 8 * k, 8))
          fail("damaged: the RELR table writes outside the library");
      where += 63 * 8;
    }
  }

  // Code the loader runs: DT_INIT and the entries of the initialiser and finaliser arrays, which
  // are relocated (their final value is a relative relocation's addend).
  void initialisers() {
    for (std::int64_t tag : {DT_INIT, DT_FINI})
      if (has(tag) && !img_.executable(get(tag, "")))
        fail("damaged: an initialiser or finaliser outside the code");
    const std::pair<std::int64_t, std::int64_t> arrays[] = {
        {DT_INIT_ARRAY, DT_INIT_ARRAYSZ}, {DT_FINI_ARRAY, DT_FINI_ARRAYSZ},
        {DT_PREINIT_ARRAY, DT_PREINIT_ARRAYSZ}};
    for (const auto& [tag, size_tag] : arrays) {
      if (!has(tag)) continue;
      const std::uint64_t addr = get(tag, ""), bytes = get(size_tag, "initialiser array size");
      if (bytes % 8 || bytes > kMaxCount || !img_.mapped(addr, bytes))
        fail("damaged: an initialiser array outside the library");
      for (std::uint64_t at = addr; at < addr + bytes; at += 8) {
        std::uint64_t target = 0;
        if (auto r = relative_.find(at); r != relative_.end())
          target = r->second;
        else if (auto off = img_.file_offset(at, 8))
          target = img_.read<std::uint64_t>(*off);
        if (target != 0 && target != ~std::uint64_t{0} && !img_.executable(target))
          fail("damaged: an initialiser outside the code");
      }
    }
  }

  const Image& img_;
  std::multimap<std::int64_t, std::uint64_t> tags_;
  std::uint64_t str_off_ = 0, strsz_ = 0, nsyms_ = 0;
  std::map<std::uint64_t, std::uint64_t> relative_;  // address -> value of relative relocations
};

}  // namespace

std::string elf_problem(std::string_view bytes) {
  try {
    Image img(bytes);
    const Elf64_Ehdr eh = check_header(img, bytes);
    const Elf64_Phdr dyn = check_segments(img, eh);
    DynamicCheck(img, read_dynamic(img, dyn)).run();
    return {};
  } catch (const Bad& bad) {
    return bad.why;
  }
}

std::string elf_file_problem(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return "cannot open it for reading";
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return "cannot read it";
  return elf_problem(bytes);
}

}  // namespace charnn::detail
