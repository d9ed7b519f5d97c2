// Benchmark layers behind `cairn bench`: each Run* measures one layer and returns rows that put our
// figure beside a reference measured in the same run (see docs PERFORMANCE.md: always re-measure
// the reference, report the ratio).
//
// Thread safety: the Run* functions are not meant to run concurrently with each other (they share
// the machine's cores and memory bandwidth, which would spoil both figures). They allocate their
// buffers once, touch them before timing, and never allocate inside a timed loop.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "libstore/common/io.h"

namespace cairn::bench {

struct Options {
  uint64_t size = 0;  // bytes of input per layer; 0 = the layer's default
  int k = 4, m = 2;   // erasure code shape (--ec); the codec layer adds it to 4+2 and 8+4
  int runs = 5;       // timed runs per figure; the median is reported (values < 1 mean 1)
  std::string dir;    // scratch directory for disk layers
};

// One measured figure.
struct Row {
  std::string layer, name, unit;  // e.g. "codec", "encode 4+2", "GB/s"
  double median = 0;
  std::vector<double> runs;  // per-run figures in `unit`
  std::string reference_name;
  double reference_median = 0;  // measured in the same run; reference_name empty if none
  double ratio = 0;             // median / reference_median (0 if no reference)
  double target_ratio = 0;      // the target for ratio (0 if none); pass = ratio >= target
  std::string note;
};

// A 64-byte aligned buffer whose pages are all written once on construction (a first touch costs
// ~13 us per 4 KiB page in this VM and must stay out of timed loops). The content is a
// deterministic pseudo-random pattern of `seed`. Aborts if memory runs out. Move-only.
class Buffer {
 public:
  Buffer() = default;
  explicit Buffer(size_t size, uint64_t seed = 1);
  ~Buffer();
  Buffer(Buffer&& o) noexcept : data_(o.data_), size_(o.size_) { o.data_ = nullptr, o.size_ = 0; }
  Buffer& operator=(Buffer&& o) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Median of v (mean of the middle two for an even count); 0 for an empty v.
double Median(std::vector<double> v);

// Times fn() `runs` times (at least once) on a steady clock; returns seconds per run.
std::vector<double> TimeRuns(int runs, const std::function<void()>& fn);

// Times a() and b() alternately, `runs` times each (at least once), so that a noisy neighbour hurts
// both figures alike; appends seconds per run to *a_seconds and *b_seconds.
void TimeInterleaved(int runs, const std::function<void()>& a, const std::function<void()>& b,
                     std::vector<double>* a_seconds, std::vector<double>* b_seconds);

// Converts per-run seconds into per-run rates of `bytes / seconds / 1e9` (GB/s).
std::vector<double> GbPerSecond(uint64_t bytes, const std::vector<double>& seconds);

// Fills ratio from median and reference_median (0 if either is 0).
void SetRatio(Row& row);

// An array of objects with the Row fields plus "pass" (true/false, or null without a target).
nlohmann::json ToJson(const std::vector<Row>& rows);

// Aligned human-readable table, one line per row, with a header line.
std::string ToTable(const std::vector<Row>& rows);

// A row with its median, and the reference's median and the ratio when ref_runs is not empty.
Row MakeRow(const std::string& layer, const std::string& name, const std::string& unit,
            std::vector<double> runs, const std::string& ref_name, std::vector<double> ref_runs,
            double target, std::string note = "");

// Seconds since t on the steady clock.
double SecondsSince(std::chrono::steady_clock::time_point t);

// A fresh directory below base (mkdtemp), removed with everything in it on destruction; root is
// empty if it could not be made, and error then holds mkdtemp's errno.
// While it exists, its `.lock` is held (flock): a bench killed outright (kill -9) leaves its
// directory behind with nobody holding the lock, and the next Scratch in the same base removes
// it (only such directories: real directories of ours, never through a symlink).
struct Scratch {
  explicit Scratch(const std::string& base);
  ~Scratch();
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  std::string root;
  int error = 0;

 private:
  int lock_fd_ = -1;
};

// Serves `total` bytes by cycling over `pattern` (like reading a file from the page cache).
class PatternSource : public Source {
 public:
  PatternSource(const std::string& pattern, uint64_t total) : p_(pattern), left_(total) {}
  Result<size_t> Read(void* buf, size_t n) override;

 private:
  const std::string& p_;
  uint64_t left_;
  size_t off_ = 0;
};

// Counts and drops what it is given.
class NullSink : public Sink {
 public:
  Status Write(const void*, size_t n) override {
    bytes += n;
    return Status::Ok();
  }
  uint64_t bytes = 0;
};

std::vector<Row> RunCodec(const Options&);  // layer "codec"
std::vector<Row> RunHash(const Options&);   // layer "hash"
// The disk layers fail (with the status of what went wrong) rather than return fewer rows: a
// scratch directory that cannot be made, a set that cannot be formatted, a put or get that fails.
Result<std::vector<Row>> RunStore(const Options&);  // layer "store" (bench_store.cc)
Result<std::vector<Row>> RunHeal(const Options&);   // layer "heal" (bench_heal.cc); needs m >= 1

}  // namespace cairn::bench
