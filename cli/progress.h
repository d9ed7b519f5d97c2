// A one-line progress bar on stderr, redrawn at most 10 times a second. Disabled (no output at
// all) unless stderr is a terminal and --no-progress was not given.
// Thread safety: Add may be called from one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace cairn::cli {

class Progress {
 public:
  // The label is shown with unprintable characters escaped (EscapeUnprintable, cli/text_out.h)
  // and cut to kMaxLabel bytes. total 0 = unknown.
  Progress(std::string label, uint64_t total, bool enabled);
  static constexpr size_t kMaxLabel = 48;
  ~Progress();
  void Add(uint64_t n);
  void Finish();  // clears the line
  void Clear();   // clears the line so other output can go out; the next Add draws again

 private:
  void Draw(bool force);
  std::string label_;
  uint64_t total_, done_ = 0;
  bool enabled_, drawn_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

// The one aggregated line of a transfer of many objects (cp, run), on stderr:
// "cp  12.0 MiB / 40.0 MiB  3.1 MiB/s  ETA 9s  10/40 objects, 1 failed". Disabled: no output.
// Thread safety: one call at a time.
class TransferProgress {
 public:
  TransferProgress(std::string label, bool enabled);
  ~TransferProgress() { Clear(); }
  // Redraws (at most 10 times a second) with these totals; bytes_total 0: unknown (no ETA).
  void Update(uint64_t bytes, uint64_t bytes_total, uint64_t done, uint64_t total,
              uint64_t failed);
  void Clear();  // clears the line; the next Update draws again

 private:
  std::string label_;
  bool enabled_, drawn_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

// "1.5 GiB", "512 B".
std::string HumanBytes(double n);

}  // namespace cairn::cli
