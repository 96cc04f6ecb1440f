// The check a plugin file passes before dlopen: any bytes give "" or a reason, never a read
// outside them. (Whether a file it passes then loads is what scripts/attack-plugins.sh measures.)
#include <charnn/detail/elf_check.hpp>

#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  (void)charnn::detail::elf_problem(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
