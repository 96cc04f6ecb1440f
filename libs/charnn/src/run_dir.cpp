// Run directories, resume points and metrics.csv. See run_dir.hpp.
#include "run_dir.hpp"

#include "train_banner.hpp"

#include <charnn/atomic_file.hpp>
#include <charnn/checkpoint.hpp>
#include <charnn/error.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <ctime>

namespace charnn::detail {

namespace fs = std::filesystem;

namespace {

const char* const kMetricsHeader =
    "iteration,epoch,seconds,units,lr,train_loss,grad_norm,valid_loss,valid_bits,units_per_"
    "second,valid_units,trained_valid_loss,validation";

std::string timestamp() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
  return buf;
}

}  // namespace

RunLock::RunLock(const fs::path& run_dir) {
  const fs::path file = run_dir / ".lock";
  fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0)
    throw error("cannot open " + file.string() + ": " + std::strerror(errno),
                "check that the run directory " + run_dir.string() + " is writable");
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int e = errno;
    char buf[32] = {};
    const ssize_t n = ::pread(fd_, buf, sizeof buf - 1, 0);
    ::close(fd_);
    fd_ = -1;
    if (e != EWOULDBLOCK)
      throw error("cannot lock " + file.string() + ": " + std::strerror(e));
    const long pid = n > 0 ? std::strtol(buf, nullptr, 10) : 0;
    throw error(run_dir.string() + " is in use by " +
                    (pid > 0 ? "pid " + std::to_string(pid) : std::string("another process")),
                "wait for that run to end (or stop it), or train into another directory");
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  // Best effort: the pid only makes the message above more useful.
  if (::ftruncate(fd_, 0) == 0 && ::pwrite(fd_, pid.data(), pid.size(), 0) < 0) errno = 0;
}

// From /proc/locks, not by taking the lock: a reader holding even a shared lock for an instant
// would make a training run that starts then refuse the directory as in use.
long run_writer(const fs::path& run_dir) {
  struct stat st {};
  if (::stat((run_dir / ".lock").c_str(), &st) != 0) return 0;
  std::ifstream locks("/proc/locks");
  std::string line;
  while (std::getline(locks, line)) {
    if (line.find("->") != std::string::npos) continue;  // a waiter, not a holder
    std::istringstream fields(line);
    std::string id, kind, advisory, mode, where;
    long pid = 0;
    if (!(fields >> id >> kind >> advisory >> mode >> pid >> where)) continue;
    if (kind != "FLOCK" || mode != "WRITE") continue;
    unsigned major = 0, minor = 0;
    unsigned long long inode = 0;
    if (std::sscanf(where.c_str(), "%x:%x:%llu", &major, &minor, &inode) != 3) continue;
    if (inode == st.st_ino && major == ::major(st.st_dev) && minor == ::minor(st.st_dev))
      return pid > 0 ? pid : 1;
  }
  return 0;
}

RunLock& RunLock::operator=(RunLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the flock
}

NewRun create_run_dir(const TrainConfig& config) {
  std::error_code ec;
  if (!config.out.empty()) {
    NewRun run;
    run.dir = config.out;
    run.created = !fs::exists(run.dir, ec);
    fs::create_directories(run.dir, ec);
    if (ec) throw error("cannot create run directory " + run.dir.string() + ": " + ec.message());
    run.lock = RunLock(run.dir);  // before the check, so no other process can start a run here
    if (fs::exists(run.dir / "last.ckpt", ec))
      throw error(run.dir.string() + " already holds a run (last.ckpt)",
                  "continue it with " + option_name("resume") + " " + run.dir.string() +
                      ", or choose another " + option_name("out"));
    return run;
  }
  const fs::path runs = "runs";
  fs::create_directories(runs, ec);
  if (ec)
    throw error("cannot create " + fs::absolute(runs).string() + ": " + ec.message(),
                "run in a writable directory or pass " + option_name("out") + " DIR");
  const std::string base = config.corpus.front().stem().string() + "-" + timestamp();
  std::string name = base;
  // create_directory is false when the name exists: another run took it, try the next one.
  for (int i = 2; !fs::create_directory(runs / name, ec); ++i) {
    if (ec) throw error("cannot create " + (runs / name).string() + ": " + ec.message());
    name = base + "-" + std::to_string(i);
  }
  NewRun run;
  run.dir = runs / name;
  run.lock = RunLock(run.dir);
  run.created = true;
  run.latest = runs / "latest";
  return run;
}

void publish_run(const NewRun& run) {
  if (!run.latest.empty()) point_symlink(run.latest, run.dir.filename());
}

void abandon_run(const NewRun& run) noexcept {
  std::error_code ec;
  if (run.created) fs::remove_all(run.dir, ec);
}

StaleFiles remove_stale_temporaries(const fs::path& run_dir) {
  StaleFiles stale;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(run_dir, ec)) {
    const std::string name = entry.path().filename().string();
    const std::size_t at = name.rfind(".tmp-");
    if (at == std::string::npos || at == 0 || at + 5 == name.size() ||
        name.find_first_not_of("0123456789", at + 5) != std::string::npos)
      continue;
    std::error_code size_ec, remove_ec;
    const std::uintmax_t bytes = entry.is_regular_file(size_ec) ? entry.file_size(size_ec) : 0;
    if (fs::remove(entry.path(), remove_ec)) {
      ++stale.count;
      stale.bytes += size_ec ? 0 : bytes;
    }
  }
  return stale;
}

ResumePoint find_resume_point(const fs::path& resume) {
  ResumePoint p;
  p.checkpoint = resolve_checkpoint(resume, CheckpointChoice::last);
  p.run_dir = p.checkpoint.parent_path().empty() ? fs::path(".") : p.checkpoint.parent_path();
  return p;
}

void write_text_file(const fs::path& file, const std::string& text) {
  AtomicFile out(file);
  out.stream() << text;
  out.commit();
}

MetricsLog::MetricsLog(const fs::path& run_dir, bool resuming, std::int64_t iteration) {
  const fs::path file = run_dir / "metrics.csv";
  std::error_code ec;
  if (resuming && fs::exists(file, ec)) {
    std::ifstream in(file);
    std::string line, kept;
    bool first = true;
    while (std::getline(in, line)) {
      if (first) {  // the current header, also over a file from an older charnn
        kept += std::string(kMetricsHeader) + "\n";
        first = false;
        continue;
      }
      if (std::strtoll(line.c_str(), nullptr, 10) <= iteration) kept += line + "\n";
    }
    in.close();
    write_text_file(file, kept);
    rows_ = read_metrics_file(file).rows;
    out_.open(file, std::ios::app);
  } else {
    out_.open(file, std::ios::trunc);
    out_ << kMetricsHeader << "\n";
  }
  if (!out_) throw error("cannot write " + file.string());
  out_.flush();
}

void MetricsLog::write(const MetricsRow& r) {
  auto opt = [](double v, int digits) { return std::isnan(v) ? std::string() : fixed(v, digits); };
  out_ << r.iteration << "," << fixed(r.epoch, 4) << "," << fixed(r.seconds, 2) << "," << r.units
       << "," << short_num(r.lr) << "," << opt(r.train_loss, 5) << "," << opt(r.grad_norm, 4) << ","
       << opt(r.valid_loss, 5) << ","
       << opt(std::isnan(r.valid_loss) ? r.valid_loss : r.valid_loss / kLn2, 5) << ","
       << fixed(r.units_per_second, 0) << ","
       << (r.valid_units > 0 ? std::to_string(r.valid_units) : std::string()) << ","
       << opt(r.trained_valid_loss, 5) << ","
       << (std::isnan(r.valid_loss) ? "" : r.end_of_run ? "end" : "periodic") << "\n";
  out_.flush();
  rows_.push_back(r);
}

}  // namespace charnn::detail
