// See stdout_sink.hpp.
#include "stdout_sink.hpp"

#include <unistd.h>

#include <cerrno>

namespace charnn::app {

StdoutSink::StdoutSink() : buf_(1 << 14) {
  setp(buf_.data(), buf_.data() + buf_.size());
}

bool StdoutSink::drain() {
  const char* p = pbase();
  std::size_t left = static_cast<std::size_t>(pptr() - pbase());
  while (left > 0 && error_ == 0) {
    const ssize_t n = ::write(STDOUT_FILENO, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error_ = n < 0 ? errno : EIO;
      break;
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  setp(buf_.data(), buf_.data() + buf_.size());  // after an error the output is dropped
  return error_ == 0;
}

StdoutSink::int_type StdoutSink::overflow(int_type c) {
  if (!drain()) return traits_type::eof();
  if (!traits_type::eq_int_type(c, traits_type::eof())) {
    *pptr() = traits_type::to_char_type(c);
    pbump(1);
  }
  return traits_type::not_eof(c);
}

int StdoutSink::sync() { return drain() ? 0 : -1; }

}  // namespace charnn::app
