// Timing, statistics and output shared by the benchmark layers.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bench/bench.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "libstore/volume/volume.h"

namespace cairn::bench {

Buffer::Buffer(size_t size, uint64_t seed) : size_(size) {
  const size_t rounded = (size + 63) / 64 * 64;
  data_ = static_cast<uint8_t*>(std::aligned_alloc(64, rounded == 0 ? 64 : rounded));
  if (data_ == nullptr) std::abort();
  // xorshift64*: cheap enough that the fill is bound by page faults, random enough that no codec
  // or hash shortcut applies.
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
    const uint64_t v = x * 0x2545F4914F6CDD1Dull;
    std::memcpy(data_ + i, &v, 8);
  }
  for (; i < size; ++i) data_[i] = static_cast<uint8_t>(i * 131 + seed);
}

Buffer::~Buffer() { std::free(data_); }

Buffer& Buffer::operator=(Buffer&& o) noexcept {
  if (this != &o) {
    std::free(data_);
    data_ = o.data_, size_ = o.size_;
    o.data_ = nullptr, o.size_ = 0;
  }
  return *this;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::vector<double> TimeRuns(int runs, const std::function<void()>& fn) {
  runs = std::max(runs, 1);
  std::vector<double> out;
  out.reserve(runs);
  for (int i = 0; i < runs; ++i) {
    const auto start = std::chrono::steady_clock::now();
    fn();
    const auto end = std::chrono::steady_clock::now();
    out.push_back(std::chrono::duration<double>(end - start).count());
  }
  return out;
}

void TimeInterleaved(int runs, const std::function<void()>& a, const std::function<void()>& b,
                     std::vector<double>* a_seconds, std::vector<double>* b_seconds) {
  runs = std::max(runs, 1);
  for (int i = 0; i < runs; ++i) {
    a_seconds->push_back(TimeRuns(1, a)[0]);
    b_seconds->push_back(TimeRuns(1, b)[0]);
  }
}

std::vector<double> GbPerSecond(uint64_t bytes, const std::vector<double>& seconds) {
  std::vector<double> out;
  out.reserve(seconds.size());
  for (double s : seconds) out.push_back(s > 0 ? double(bytes) / s / 1e9 : 0);
  return out;
}

void SetRatio(Row& row) {
  row.ratio = (row.median > 0 && row.reference_median > 0) ? row.median / row.reference_median : 0;
}

nlohmann::json ToJson(const std::vector<Row>& rows) {
  nlohmann::json out = nlohmann::json::array();
  for (const Row& r : rows) {
    nlohmann::json j;
    j["layer"] = r.layer;
    j["name"] = r.name;
    j["unit"] = r.unit;
    j["median"] = r.median;
    j["runs"] = r.runs;
    j["reference_name"] = r.reference_name;
    j["reference_median"] = r.reference_median;
    j["ratio"] = r.ratio;
    j["target_ratio"] = r.target_ratio;
    if (r.target_ratio > 0) {
      j["pass"] = r.ratio >= r.target_ratio;
    } else {
      j["pass"] = nullptr;
    }
    j["note"] = r.note;
    out.push_back(std::move(j));
  }
  return out;
}

namespace {

std::string Fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, v);
  return buf;
}

}  // namespace

std::string ToTable(const std::vector<Row>& rows) {
  std::vector<std::vector<std::string>> cells;
  cells.push_back({"layer", "name", "median", "unit", "reference", "ref median", "ratio", "target",
                   "pass", "note"});
  for (const Row& r : rows) {
    const bool has_ref = !r.reference_name.empty();
    const bool has_target = r.target_ratio > 0;
    cells.push_back({r.layer, r.name, Fixed(r.median, 3), r.unit, has_ref ? r.reference_name : "-",
                     has_ref ? Fixed(r.reference_median, 3) : "-",
                     has_ref ? Fixed(r.ratio, 2) : "-", has_target ? Fixed(r.target_ratio, 2) : "-",
                     has_target ? (r.ratio >= r.target_ratio ? "yes" : "NO") : "-", r.note});
  }
  std::vector<size_t> width(cells[0].size(), 0);
  for (const auto& line : cells) {
    for (size_t c = 0; c < line.size(); ++c) width[c] = std::max(width[c], line[c].size());
  }
  // Numbers are right-aligned, text left-aligned; the last column is not padded.
  const bool numeric[] = {false, false, true, false, false, true, true, true, false, false};
  std::string out;
  for (const auto& line : cells) {
    std::string text;
    for (size_t c = 0; c < line.size(); ++c) {
      const size_t pad = width[c] - line[c].size();
      if (c > 0) text += "  ";
      if (numeric[c]) text.append(pad, ' ');
      text += line[c];
      if (!numeric[c] && c + 1 < line.size()) text.append(pad, ' ');
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    out += text;
    out += '\n';
  }
  return out;
}

Row MakeRow(const std::string& layer, const std::string& name, const std::string& unit,
            std::vector<double> runs, const std::string& ref_name, std::vector<double> ref_runs,
            double target, std::string note) {
  Row r;
  r.layer = layer;
  r.name = name;
  r.unit = unit;
  r.runs = runs;
  r.median = Median(runs);
  r.reference_name = ref_name;
  if (!ref_runs.empty()) {
    r.reference_median = Median(ref_runs);
    r.ratio = r.reference_median > 0 ? r.median / r.reference_median : 0;
  }
  r.target_ratio = target;
  r.note = std::move(note);
  return r;
}

double SecondsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

namespace {

constexpr char kScratchPrefix[] = "cairn-bench-";
constexpr char kScratchLock[] = ".lock";

// Removes the scratch directories in base that killed benches left: real directories (not
// symlinks) of this user, named like ours, whose lock file nobody holds.
void RemoveDeadScratch(const std::string& base) {
  DIR* d = ::opendir(base.c_str());
  if (d == nullptr) return;
  std::vector<std::string> dead;
  while (dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name.rfind(kScratchPrefix, 0) != 0) continue;
    int dir = ::openat(::dirfd(d), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dir < 0) continue;
    struct stat st;
    int lock = -1;
    if (::fstat(dir, &st) == 0 && st.st_uid == ::geteuid()) {
      lock = ::openat(dir, kScratchLock, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (lock >= 0 && ::flock(lock, LOCK_EX | LOCK_NB) == 0) dead.push_back(name);
    if (lock >= 0) ::close(lock);
    ::close(dir);
  }
  ::closedir(d);
  if (dead.empty()) return;
  // Beneath base nothing is followed (LocalVolume never follows a symlink below its root).
  auto v = NewLocalVolume(base);
  for (const auto& name : dead) v->RemoveAll(name).IgnoreError();
}

}  // namespace

Scratch::Scratch(const std::string& base) {
  RemoveDeadScratch(base);
  std::string tmpl = base + "/" + kScratchPrefix + "XXXXXX";
  char* r = ::mkdtemp(tmpl.data());
  root = r ? r : "";
  if (r == nullptr) {
    error = errno;
    return;
  }
  // Locked under a temp name, then renamed to its name: whoever can open `.lock` finds it held.
  const std::string tmp = root + "/" + kScratchLock + ".new";
  lock_fd_ = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (lock_fd_ >= 0 && (::flock(lock_fd_, LOCK_EX) != 0 ||
                        ::rename(tmp.c_str(), (root + "/" + kScratchLock).c_str()) != 0)) {
    ::close(lock_fd_);
    lock_fd_ = -1;
  }
}

Scratch::~Scratch() {
  if (lock_fd_ >= 0) ::close(lock_fd_);
  // The scratch root's own path may pass through symlinks (--dir, $TMPDIR); nothing below it does.
  if (!root.empty()) {
    NewLocalVolume("/", LocalPathMode::kFollowLinks)->RemoveAll(root.substr(1)).IgnoreError();
  }
}

Result<size_t> PatternSource::Read(void* buf, size_t n) {
  size_t c = size_t(std::min<uint64_t>({n, left_, p_.size() - off_}));
  std::memcpy(buf, p_.data() + off_, c);
  off_ = (off_ + c) % p_.size();
  left_ -= c;
  return c;
}

}  // namespace cairn::bench
