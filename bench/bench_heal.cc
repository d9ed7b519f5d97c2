// Layer "heal": deep verify and heal of a 4+2 set holding 2 GiB in 1 MiB objects (bucket "large")
// plus 10,000 small, inline objects of 4 KiB (bucket "small"; --size scales both), beside plain
// file I/O of the same bytes in the same run:
//   - deep verify of both vs plainly reading every file of every member;
//   - heal of one wiped member, per bucket, vs plainly writing that member's share of it: for the
//     large objects the same bytes as one sequential file + fsync, for the small ones the same
//     files + one syncfs (their cost is per file, not per byte).
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <random>

#include "bench/bench.h"
#include "libstore/object/heal.h"
#include "libstore/object/set_open.h"

namespace cairn::bench {
namespace {

class Quiet : public ScanObserver {
 public:
  void Object(const ObjectHealth&) override {}
};

struct FileEntry {
  std::string rel;  // below the member root
  uint64_t size;
  bool dir;
};

// Every file and directory below root/rel, parents first.
void Walk(const std::string& root, const std::string& rel, std::vector<FileEntry>* out) {
  DIR* d = ::opendir((root + "/" + rel).c_str());
  if (d == nullptr) return;
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) names.push_back(e->d_name);
  }
  ::closedir(d);
  for (const auto& n : names) {
    std::string r = rel + "/" + n;
    struct stat st;
    if (::lstat((root + "/" + r).c_str(), &st) != 0) continue;
    out->push_back(FileEntry{r, uint64_t(st.st_size), S_ISDIR(st.st_mode)});
    if (S_ISDIR(st.st_mode)) Walk(root, r, out);
  }
}

// Reads every file in the list; returns bytes read.
uint64_t ReadAll(const std::string& root, const std::vector<FileEntry>& files, std::string& buf) {
  uint64_t total = 0;
  for (const auto& f : files) {
    if (f.dir) continue;
    int fd = ::open((root + "/" + f.rel).c_str(), O_RDONLY);
    if (fd < 0) continue;
    ssize_t r;
    while ((r = ::read(fd, buf.data(), buf.size())) > 0) total += uint64_t(r);
    ::close(fd);
  }
  return total;
}

// Writes the listed files (and directories) below root from pattern, then one syncfs.
void WriteAll(const std::string& root, const std::vector<FileEntry>& files, const std::string& pattern) {
  for (const auto& f : files) {
    std::string p = root + "/" + f.rel;
    if (f.dir) {
      ::mkdir(p.c_str(), 0755);
      continue;
    }
    int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) continue;
    for (uint64_t done = 0; done < f.size;) {
      size_t c = size_t(std::min<uint64_t>(1 << 20, f.size - done));
      if (::write(fd, pattern.data(), c) < 0) break;
      done += c;
    }
    ::close(fd);
  }
  int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY);
  ::syncfs(fd);
  ::close(fd);
}

// One sequential file of `bytes`, then fsync.
void WriteOne(const std::string& path, uint64_t bytes, const std::string& pattern) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  for (uint64_t done = 0; done < bytes;) {
    size_t c = size_t(std::min<uint64_t>(1 << 20, bytes - done));
    if (::write(fd, pattern.data(), c) < 0) break;
    done += c;
  }
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

Result<std::vector<Row>> RunHeal(const Options& o) {
  std::vector<Row> rows;
  Scratch scratch(o.dir);
  if (scratch.root.empty()) return PosixError(o.dir + ": scratch directory", scratch.error);
  const uint32_t n = uint32_t(o.k + o.m);
  std::vector<std::string> dirs;
  for (uint32_t i = 0; i < n; ++i) dirs.push_back(scratch.root + "/d" + std::to_string(i + 1));
  SetParams p;
  p.k = uint32_t(o.k);
  p.m = uint32_t(o.m);
  RETURN_IF_ERROR(InitSet(dirs, p, false));
  ASSIGN_OR_RETURN(OpenedSet opened, OpenSet(dirs));
  ErasureSet& set = *opened.set;
  RETURN_IF_ERROR(set.MakeBucket("large"));
  RETURN_IF_ERROR(set.MakeBucket("small"));

  std::string pattern(8 << 20, '\0');
  std::mt19937_64 rng(7);
  for (size_t i = 0; i + 8 <= pattern.size(); i += 8) {
    uint64_t v = rng();
    std::memcpy(&pattern[i], &v, 8);
  }
  const uint64_t kDefaultTotal = uint64_t(2) << 30;
  const uint64_t total = o.size ? o.size : kDefaultTotal;
  const int big = int(std::max<uint64_t>(1, total >> 20));
  // 10,000 small objects per 2 GiB of large ones: --size scales both buckets (at least one).
  const uint64_t small_n =
      total / kDefaultTotal * 10000 + total % kDefaultTotal * 10000 / kDefaultTotal;  // no overflow
  const int small = int(std::max<uint64_t>(1, small_n));
  PutOptions po;
  po.fsync = false;
  po.etag = EtagMode::kFast;
  char key[64];
  for (int i = 0; i < big; ++i) {
    std::snprintf(key, sizeof(key), "obj/%06d", i);
    // Each object starts at another place in the pattern, so no two are alike.
    std::string piece = pattern.substr(size_t(i) * 4099 % (pattern.size() - (1 << 20)), 1 << 20);
    PatternSource src(piece, 1 << 20);
    RETURN_IF_ERROR(set.PutObject("large", key, src, po).status());
  }
  for (int i = 0; i < small; ++i) {
    std::snprintf(key, sizeof(key), "obj/%05d", i);
    PatternSource src(pattern, 4096);
    RETURN_IF_ERROR(set.PutObject("small", key, src, po).status());
  }
  ::sync();
  const std::string large_label = std::to_string(big) + " x 1 MiB";
  const std::string small_label = std::to_string(small) + " x 4 KiB";
  Quiet quiet;

  // Deep verify of everything vs reading every member file, interleaved. Warm up first
  // (untimed): the first touch of guest pages is slow here, and both sides should read from the
  // page cache.
  std::vector<FileEntry> all;
  for (uint32_t i = 0; i < n; ++i) {
    for (const char* b : {"large", "small"}) {
      std::vector<FileEntry> files;
      Walk(dirs[i], b, &files);
      for (auto& f : files) f.rel = "d" + std::to_string(i + 1) + "/" + f.rel;
      all.insert(all.end(), files.begin(), files.end());
    }
  }
  std::string buf(1 << 20, '\0');
  ReadAll(scratch.root, all, buf);
  std::vector<double> verify_gbs, verify_ops, read_gbs;
  SetScanOptions vo;
  vo.deep = true;
  for (int r = 0; r < o.runs; ++r) {
    auto t = std::chrono::steady_clock::now();
    uint64_t bytes = ReadAll(scratch.root, all, buf);
    read_gbs.push_back(double(bytes) / 1e9 / SecondsSince(t));
    t = std::chrono::steady_clock::now();
    auto s = ScanSet(set, vo, quiet);
    double secs = SecondsSince(t);
    if (!s.ok()) return s.status();
    if (s->healthy != uint64_t(big + small))
      return Internal("verify found unhealthy objects in a fresh set");
    verify_gbs.push_back(double(s->bytes_read) / 1e9 / secs);
    verify_ops.push_back(double(big + small) / secs);
  }
  const std::string both = large_label + " + " + small_label;
  rows.push_back(MakeRow("heal", "verify --deep, " + both, "GB/s", verify_gbs,
                         "plain read of every member file", read_gbs, 0.7));
  rows.push_back(MakeRow("heal", "verify --deep, " + both, "objects/s", verify_ops, "", {}, 0));

  // Heal of a wiped member, one bucket at a time, vs plain writes of that member's share of it.
  const uint32_t victim = 1;
  const std::string ref_dir = scratch.root + "/ref";
  for (const char* bucket : {"large", "small"}) {
    const bool is_large = std::string(bucket) == "large";
    const int count = is_large ? big : small;
    std::vector<FileEntry> share{FileEntry{bucket, 0, true}};
    Walk(dirs[victim], bucket, &share);
    uint64_t share_bytes = 0;
    for (const auto& f : share) share_bytes += f.dir ? 0 : f.size;
    std::vector<double> heal_mbs, heal_ops, ref_mbs, ref_ops;
    SetScanOptions ho;
    ho.heal = true;
    ho.resume = false;
    ho.bucket = bucket;
    // A wipe moves the member's files (and the reference's) aside rather than deleting them:
    // ext4 without a journal skips recently freed inodes one by one when it allocates new ones
    // (recently_deleted(), up to 6 minutes), so creating thousands of files right after deleting
    // thousands costs several times what it costs on the fresh disk a wiped member is replaced
    // with. The trash goes when the layer ends, untimed.
    int trash = 0;
    auto wipe = [&] {
      const std::string t = scratch.root + "/trash" + std::to_string(trash++);
      ::mkdir(t.c_str(), 0755);
      ::rename((dirs[victim] + "/" + bucket).c_str(), (t + "/member").c_str());
      ::rename(ref_dir.c_str(), (t + "/ref").c_str());
      ::rename((scratch.root + "/one").c_str(), (t + "/one").c_str());
      ::mkdir(ref_dir.c_str(), 0755);
      ::sync();
    };
    for (int r = 0; r < o.runs; ++r) {
      wipe();
      auto t = std::chrono::steady_clock::now();
      if (is_large) WriteOne(scratch.root + "/one", share_bytes, pattern);
      else WriteAll(ref_dir, share, pattern);
      double secs = SecondsSince(t);
      ref_mbs.push_back(double(share_bytes) / 1e6 / secs);
      ref_ops.push_back(double(count) / secs);
      wipe();
      t = std::chrono::steady_clock::now();
      auto s = ScanSet(set, ho, quiet);
      secs = SecondsSince(t);
      if (!s.ok()) return s.status();
      if (s->still_degraded != 0 || s->healed != uint64_t(count)) {
        return Internal("heal of a wiped member left objects unhealed");
      }
      heal_mbs.push_back(double(share_bytes) / 1e6 / secs);
      heal_ops.push_back(double(count) / secs);
    }
    if (is_large) {
      rows.push_back(MakeRow("heal", "heal of a wiped member, " + large_label, "MB/s", heal_mbs,
                             "plain write of its share, one file + fsync", ref_mbs, 0.5));
      rows.push_back(MakeRow("heal", "heal of a wiped member, " + large_label, "objects/s", heal_ops,
                             "", {}, 0));
    } else {
      // No target from the issue here: per object, heal reads every member's metadata copy
      // (twice: once to plan, once under the lock to be sure no writer came in between), where
      // the reference only creates the files.
      rows.push_back(MakeRow("heal", "heal of a wiped member, " + small_label, "objects/s", heal_ops,
                             "plain write of its share, same files + syncfs", ref_ops, 0));
    }
  }
  return rows;
}

}  // namespace cairn::bench
