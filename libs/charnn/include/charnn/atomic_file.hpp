// Output files that appear whole or not at all: written under a temporary name in the target's
// directory and renamed over the target by commit(). An AtomicFile destroyed without commit()
// (an error, an exception) removes its temporary, so a failed command leaves no partial output.
#pragma once

#include <filesystem>
#include <fstream>

namespace charnn {

class AtomicFile {
 public:
  // Opens "<target>.tmp-<pid>" for binary writing. Throws charnn::error naming the target when
  // its directory is missing or not writable.
  explicit AtomicFile(std::filesystem::path target);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  std::ostream& stream() { return out_; }
  const std::filesystem::path& target() const { return target_; }
  // Flushes, checks every write succeeded (else throws, e.g. on a full disk), renames.
  void commit();

 private:
  std::filesystem::path target_, temp_;
  std::ofstream out_;
  bool committed_ = false;
};

}  // namespace charnn
