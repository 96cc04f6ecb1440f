// Temporary-then-rename output (see atomic_file.hpp).
#include "charnn/atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>
#include <vector>

#include "charnn/error.hpp"

namespace charnn {

// An output buffer over a file descriptor: unlike std::filebuf it keeps the errno of a failed
// write (so "No space left on device" reaches the message) and gives fsync the same descriptor.
class AtomicFile::Buffer : public std::streambuf {
 public:
  explicit Buffer(int fd) : fd_(fd), data_(1 << 16) {
    setp(data_.data(), data_.data() + data_.size());
  }
  ~Buffer() override { close(); }
  int fd() const { return fd_; }
  int error() const { return errno_; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 protected:
  int_type overflow(int_type c) override {
    if (!drain()) return traits_type::eof();
    if (!traits_type::eq_int_type(c, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(c);
      pbump(1);
    }
    return traits_type::not_eof(c);
  }
  int sync() override { return drain() ? 0 : -1; }

 private:
  bool drain() {
    const char* p = pbase();
    while (p < pptr() && errno_ == 0) {
      const ssize_t n = ::write(fd_, p, static_cast<std::size_t>(pptr() - p));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) errno_ = n < 0 ? errno : EIO;
      if (n > 0) p += n;
    }
    setp(data_.data(), data_.data() + data_.size());
    return errno_ == 0;
  }
  int fd_;
  int errno_ = 0;
  std::vector<char> data_;
};

AtomicFile::AtomicFile(std::filesystem::path target) : AtomicFile(std::move(target), Options{}) {}

AtomicFile::AtomicFile(std::filesystem::path target, Options options)
    : target_(std::move(target)), options_(std::move(options)), out_(nullptr) {
  temp_ = target_;
  temp_ += ".tmp-" + std::to_string(::getpid());
  // The rename at the end would fail: say so now, before the work that fills the file.
  std::error_code ec;
  if (std::filesystem::is_directory(target_, ec))
    fail("Is a directory", "give the name of a file, not of a directory");
  const int fd = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    const std::string why = std::strerror(errno);
    const auto dir =
        target_.parent_path().empty() ? std::filesystem::path(".") : target_.parent_path();
    fail(why, !options_.open_hint.empty() ? options_.open_hint
              : std::filesystem::is_directory(dir)
                  ? "check that " + dir.string() + " is writable"
                  : "the directory " + dir.string() + " does not exist; create it first");
  }
  buf_ = std::make_unique<Buffer>(fd);
  out_.rdbuf(buf_.get());
}

AtomicFile::~AtomicFile() {
  if (committed_) return;
  buf_.reset();
  std::error_code ec;
  std::filesystem::remove(temp_, ec);  // best effort: we may be unwinding already
}

void AtomicFile::fail(const std::string& why, const std::string& hint) const {
  const std::string what = options_.what.empty() ? "" : options_.what + " ";
  throw error("cannot write " + what + target_.string() + ": " + why, hint);
}

void AtomicFile::commit() {
  out_.flush();
  int err = buf_->error();
  if (err == 0 && !out_) err = EIO;
  if (err == 0 && options_.durable && ::fsync(buf_->fd()) != 0) err = errno;
  buf_->close();
  if (err != 0)
    fail(std::strerror(err), !options_.write_hint.empty()
                                 ? options_.write_hint
                                 : "free some space or choose another output path");
  if (const int e = rename_into_place(temp_, target_, options_.durable))
    fail(std::strerror(e), "check that the path is not a directory and its directory is writable");
  committed_ = true;
}

int rename_into_place(const std::filesystem::path& from, const std::filesystem::path& to,
                      bool durable) {
  if (::rename(from.c_str(), to.c_str()) != 0) return errno;
  if (durable) {
    const auto dir = to.has_parent_path() ? to.parent_path() : std::filesystem::path(".");
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
  }
  return 0;
}

}  // namespace charnn
