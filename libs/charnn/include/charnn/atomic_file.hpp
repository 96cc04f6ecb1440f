// Output files that appear whole or not at all: written under a temporary name in the target's
// directory and renamed over the target by commit(). An AtomicFile destroyed without commit()
// (an error, an exception) removes its temporary, so a failed command leaves no partial output.
// The durable mode also survives a power cut, not only a crash of the process: the file is
// fsynced before the rename and its directory after it (checkpoints use it).
#pragma once

#include <filesystem>
#include <memory>
#include <ostream>
#include <string>

namespace charnn {

class AtomicFile {
 public:
  struct Options {
    bool durable = false;
    std::string what;        // how errors name the file: "checkpoint" gives "cannot write
                             // checkpoint <target>: ..."; empty: "cannot write <target>: ..."
    std::string open_hint;   // replaces the default hint when the temporary cannot be created
    std::string write_hint;  // replaces the default hint when writing it fails
  };

  // Opens "<target>.tmp-<pid>" for binary writing. Throws charnn::error naming the target when
  // its directory is missing or not writable.
  explicit AtomicFile(std::filesystem::path target);
  AtomicFile(std::filesystem::path target, Options options);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  std::ostream& stream() { return out_; }
  const std::filesystem::path& target() const { return target_; }
  // Flushes, checks every write succeeded (else throws, e.g. on a full disk), fsyncs when
  // durable, renames.
  void commit();

 private:
  class Buffer;
  [[noreturn]] void fail(const std::string& why, const std::string& hint) const;
  std::filesystem::path target_, temp_;
  Options options_;
  std::unique_ptr<Buffer> buf_;
  std::ostream out_;
  bool committed_ = false;
};

// Renames `from` over `to` (same directory); when durable, then fsyncs that directory so the
// rename itself is on disk. Returns 0 or the errno of the failed rename. For replacements that
// are not files written through AtomicFile, such as a symbolic link made under a temporary name.
int rename_into_place(const std::filesystem::path& from, const std::filesystem::path& to,
                      bool durable);

}  // namespace charnn
