// Run directories, resume points and metrics.csv. See run_dir.hpp.
#include "run_dir.hpp"

#include "train_banner.hpp"

#include <charnn/atomic_file.hpp>
#include <charnn/checkpoint.hpp>
#include <charnn/error.hpp>

#include <cmath>
#include <ctime>

namespace charnn::detail {

namespace fs = std::filesystem;

namespace {

const char* const kMetricsHeader =
    "iteration,epoch,seconds,units,lr,train_loss,grad_norm,valid_loss,valid_bits,units_per_"
    "second,valid_units";

std::string timestamp() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
  return buf;
}

}  // namespace

fs::path create_run_dir(const TrainConfig& config) {
  std::error_code ec;
  if (!config.out.empty()) {
    const fs::path dir = config.out;
    if (fs::exists(dir / "last.ckpt", ec))
      throw error(dir.string() + " already holds a run (last.ckpt)",
                  "continue it with " + option_name("resume") + " " + dir.string() +
                      ", or choose another " + option_name("out"));
    fs::create_directories(dir, ec);
    if (ec) throw error("cannot create run directory " + dir.string() + ": " + ec.message());
    return dir;
  }
  const fs::path runs = "runs";
  fs::create_directories(runs, ec);
  if (ec)
    throw error("cannot create " + fs::absolute(runs).string() + ": " + ec.message(),
                "run in a writable directory or pass " + option_name("out") + " DIR");
  const std::string base = config.corpus.front().stem().string() + "-" + timestamp();
  std::string name = base;
  for (int i = 2; fs::exists(runs / name, ec); ++i) name = base + "-" + std::to_string(i);
  fs::create_directory(runs / name, ec);
  if (ec) throw error("cannot create " + (runs / name).string() + ": " + ec.message());
  point_symlink(runs / "latest", name);
  return runs / name;
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
    out_.open(file, std::ios::app);
  } else {
    out_.open(file, std::ios::trunc);
    out_ << kMetricsHeader << "\n";
  }
  if (!out_) throw error("cannot write " + file.string());
  out_.flush();
}

void MetricsLog::write(const Row& r) {
  auto opt = [](double v, int digits) { return std::isnan(v) ? std::string() : fixed(v, digits); };
  out_ << r.iteration << "," << fixed(r.epoch, 4) << "," << fixed(r.seconds, 2) << "," << r.units
       << "," << short_num(r.lr) << "," << opt(r.train_loss, 5) << "," << opt(r.grad_norm, 4) << ","
       << opt(r.valid_loss, 5) << ","
       << opt(std::isnan(r.valid_loss) ? r.valid_loss : r.valid_loss / kLn2, 5) << ","
       << fixed(r.units_per_second, 0) << ","
       << (r.valid_units > 0 ? std::to_string(r.valid_units) : std::string()) << "\n";
  out_.flush();
}

}  // namespace charnn::detail
