// std::cout for every command whose stdout is a file or a pipe, with the first write error kept:
// a full disk or /dev/full must fail the command (exit 1, "No space left on device"), not
// vanish. (A terminal keeps the usual line-buffered stdout.)
#pragma once

#include <streambuf>
#include <vector>

namespace charnn::app {

class StdoutSink : public std::streambuf {
 public:
  StdoutSink();
  // The errno of the first failed write, 0 when every write so far succeeded.
  int error() const { return error_; }

 protected:
  int_type overflow(int_type c) override;
  int sync() override;

 private:
  bool drain();  // writes the buffer out; false (and error_ set) on failure
  std::vector<char> buf_;
  int error_ = 0;
};

}  // namespace charnn::app
