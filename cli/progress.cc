#include "cli/progress.h"

#include <cstdio>

#include "cli/text_out.h"

namespace cairn::cli {

std::string HumanBytes(double n) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int u = 0;
  while (n >= 1024 && u < 5) {
    n /= 1024;
    ++u;
  }
  char buf[32];
  if (u == 0) std::snprintf(buf, sizeof(buf), "%.0f %s", n, kUnits[u]);
  else std::snprintf(buf, sizeof(buf), "%.1f %s", n, kUnits[u]);
  return buf;
}

Progress::Progress(std::string label, uint64_t total, bool enabled)
    : label_(EscapeUnprintable(label)), total_(total), enabled_(enabled) {
  // The label (often "put <key>") must neither drive the terminal nor wrap the line the bar
  // redraws with \r.
  if (label_.size() > kMaxLabel) {
    size_t cut = kMaxLabel - 3;
    while (cut > 0 && (static_cast<unsigned char>(label_[cut]) & 0xC0) == 0x80) --cut;
    label_ = label_.substr(0, cut) + "...";
  }
  start_ = last_ = std::chrono::steady_clock::now();
}

Progress::~Progress() { Finish(); }

void Progress::Add(uint64_t n) {
  done_ += n;
  if (enabled_) Draw(false);
}

void Progress::Draw(bool force) {
  auto now = std::chrono::steady_clock::now();
  if (!force && now - last_ < std::chrono::milliseconds(100)) return;
  last_ = now;
  double secs = std::chrono::duration<double>(now - start_).count();
  double rate = secs > 0 ? done_ / secs : 0;
  char line[256];
  if (total_ > 0) {
    int width = 30;
    int fill = int(double(done_) / double(total_) * width);
    if (fill > width) fill = width;
    std::string bar(size_t(fill), '=');
    bar += std::string(size_t(width - fill), ' ');
    std::snprintf(line, sizeof(line), "\r%s [%s] %3d%% %s / %s  %s/s ", label_.c_str(), bar.c_str(),
                  int(100.0 * double(done_) / double(total_)), HumanBytes(double(done_)).c_str(),
                  HumanBytes(double(total_)).c_str(), HumanBytes(rate).c_str());
  } else {
    std::snprintf(line, sizeof(line), "\r%s %s  %s/s ", label_.c_str(),
                  HumanBytes(double(done_)).c_str(), HumanBytes(rate).c_str());
  }
  std::fputs(line, stderr);
  std::fflush(stderr);
  drawn_ = true;
}

void Progress::Clear() {
  if (drawn_) {
    std::fputs("\r\033[K", stderr);
    std::fflush(stderr);
    drawn_ = false;
  }
}

void Progress::Finish() {
  Clear();
  enabled_ = false;
}

TransferProgress::TransferProgress(std::string label, bool enabled)
    : label_(EscapeUnprintable(label)), enabled_(enabled) {
  start_ = std::chrono::steady_clock::now();
  last_ = start_ - std::chrono::seconds(1);
}

void TransferProgress::Update(uint64_t bytes, uint64_t bytes_total, uint64_t done, uint64_t total,
                              uint64_t failed) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_ < std::chrono::milliseconds(100)) return;
  last_ = now;
  const double secs = std::chrono::duration<double>(now - start_).count();
  const double rate = secs > 0 ? double(bytes) / secs : 0;
  std::string line = "\r" + label_ + "  " + HumanBytes(double(bytes));
  if (bytes_total > 0) line += " / " + HumanBytes(double(bytes_total));
  line += "  " + HumanBytes(rate) + "/s";
  if (bytes_total > bytes && rate > 0) {
    line += "  ETA " + std::to_string(uint64_t(double(bytes_total - bytes) / rate)) + "s";
  }
  line += "  " + std::to_string(done) + "/" + std::to_string(total) + " objects";
  if (failed > 0) line += ", " + std::to_string(failed) + " failed";
  line += "\033[K";
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
  drawn_ = true;
}

void TransferProgress::Clear() {
  if (drawn_) {
    std::fputs("\r\033[K", stderr);
    std::fflush(stderr);
    drawn_ = false;
  }
}

}  // namespace cairn::cli
