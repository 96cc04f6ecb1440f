// Temporary-then-rename output (see atomic_file.hpp).
#include "charnn/atomic_file.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "charnn/error.hpp"

namespace charnn {

AtomicFile::AtomicFile(std::filesystem::path target) : target_(std::move(target)) {
  temp_ = target_;
  temp_ += ".tmp-" + std::to_string(::getpid());
  out_.open(temp_, std::ios::binary | std::ios::trunc);
  if (!out_) {
    const std::string why = std::strerror(errno);
    const auto dir =
        target_.parent_path().empty() ? std::filesystem::path(".") : target_.parent_path();
    throw error("cannot write " + target_.string() + ": " + why,
                std::filesystem::is_directory(dir)
                    ? "check that " + dir.string() + " is writable"
                    : "the directory " + dir.string() + " does not exist; create it first");
  }
}

AtomicFile::~AtomicFile() {
  if (committed_) return;
  out_.close();
  std::error_code ec;
  std::filesystem::remove(temp_, ec);  // best effort: we may be unwinding already
}

void AtomicFile::commit() {
  out_.flush();
  const bool ok = static_cast<bool>(out_);
  out_.close();
  if (!ok || out_.fail())
    throw error("cannot write " + target_.string() + ": write failed (disk full?)",
                "free some space or choose another output path");
  std::error_code ec;
  std::filesystem::rename(temp_, target_, ec);
  if (ec)
    throw error("cannot write " + target_.string() + ": " + ec.message(),
                "check that the path is not a directory and its directory is writable");
  committed_ = true;
}

}  // namespace charnn
