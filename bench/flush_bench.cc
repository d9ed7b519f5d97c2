// flush_bench: what it costs to make a write durable with syncfs(2) (one flush of the whole file
// system) against fdatasync(2) of the writer's own files (several at once, one thread each), in the
// three shapes cairn writes: many small PUTs from concurrent writers, one large PUT, one encode.
// Built and driven by bench/flush.sh, which also runs the reference and dirties the page cache.
//
//   flush_bench DIR small   syncfs|fdatasync|pfdatasync THREADS PUTS_PER_THREAD
//                                                                    -> puts/s, MiB written
//   flush_bench DIR large   syncfs|fdatasync|sfdatasync MIB          -> seconds, MiB written
//   flush_bench DIR encode  syncfs|fdatasync|sfdatasync MIB          -> seconds, MiB written
//
// "MiB written" is what the disk holding DIR wrote during the run (/sys/dev/block/M:N/stat, or
// its whole disk's when DIR is on a partition): the run's own bytes plus whatever its flushes
// forced out for others (and whatever else wrote to that disk meanwhile).
// small: every PUT writes a 4 KiB temp file into each of 6 member directories, flushes them,
// renames each into place and flushes the names (as a 4+2 set's inline PUT does). syncfs: two
// group commits shared by concurrent writers (libstore/common/group_sync.cc's scheme); fdatasync:
// each temp file's data, then each member directory, one after another; pfdatasync: the same
// with the 6 members' files (then directories) flushed at once, one thread each.
// large: a PUT of MIB bytes on 4+2: 6 shard files of MIB/4 in 6 member directories, written by one
// thread with early writeback every 8 MiB (as the PUT pipeline does), then flushed, renamed, and
// the names flushed (fdatasync: the 6 files at once, one thread each, as cairn does; sfdatasync:
// one after another). encode: the same 6 files in one directory.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "flush_bench: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(1);
}

void Check(bool ok, const std::string& what) {
  if (!ok) Die(what);
}

// One shared flush of the file system for every caller that arrived before it started.
class GroupSync {
 public:
  void Sync(int fd) {
    std::unique_lock<std::mutex> l(mu_);
    const uint64_t need = started_ + 1;
    while (finished_ < need) {
      if (!running_) {
        running_ = true;
        const uint64_t mine = ++started_;
        l.unlock();
        Check(::syncfs(fd) == 0, "syncfs");
        l.lock();
        running_ = false;
        finished_ = mine;
        cv_.notify_all();
        continue;
      }
      cv_.wait(l);
    }
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t started_ = 0, finished_ = 0;
  bool running_ = false;
};

void SyncPath(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  Check(fd >= 0, "open " + path);
  Check(::fsync(fd) == 0, "fsync " + path);
  ::close(fd);
}

void WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    Check(w > 0, "write");
    p += w;
    n -= size_t(w);
  }
}

double Since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

constexpr int kMembers = 6;

// Sectors written so far by the block device holding dir (0 if unknown).
uint64_t SectorsWritten(const std::string& dir) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) return 0;
  const std::string base = "/sys/dev/block/" + std::to_string(major(st.st_dev)) + ":" +
                           std::to_string(minor(st.st_dev));
  for (const std::string& path : {base + "/stat", base + "/../stat"}) {
    if (FILE* f = std::fopen(path.c_str(), "r")) {
      unsigned long long v[7] = {};
      int got = std::fscanf(f, "%llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                            &v[4], &v[5], &v[6]);
      std::fclose(f);
      if (got == 7) return v[6];
    }
  }
  return 0;
}

enum How { kSyncfs, kSerial, kParallel };

double Small(const std::string& dir, How how, int threads, int puts) {
  std::vector<std::string> members;
  for (int i = 0; i < kMembers; ++i) {
    std::string m = dir + "/m" + std::to_string(i);
    ::mkdir(m.c_str(), 0755);
    ::mkdir((m + "/tmp").c_str(), 0755);
    ::mkdir((m + "/obj").c_str(), 0755);
    members.push_back(m);
  }
  SyncPath(dir);
  int root = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  Check(root >= 0, "open " + dir);
  GroupSync group;
  const std::string body(4096, 'x');
  auto t = std::chrono::steady_clock::now();
  std::vector<std::thread> ts;
  for (int th = 0; th < threads; ++th) {
    ts.emplace_back([&, th] {
      for (int p = 0; p < puts; ++p) {
        const std::string name = std::to_string(th) + "-" + std::to_string(p);
        auto write = [&](const std::string& m) {
          std::string tmp = m + "/tmp/" + name;
          int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
          Check(fd >= 0, "open " + tmp);
          WriteAll(fd, body.data(), body.size());
          if (how != kSyncfs) Check(::fdatasync(fd) == 0, "fdatasync");
          ::close(fd);
        };
        if (how == kParallel) {
          std::vector<std::thread> w;
          for (const auto& m : members) w.emplace_back(write, m);
          for (auto& x : w) x.join();
        } else {
          for (const auto& m : members) write(m);
        }
        if (how == kSyncfs) group.Sync(root);
        for (const auto& m : members) {
          Check(::rename((m + "/tmp/" + name).c_str(), (m + "/obj/" + name).c_str()) == 0,
                "rename");
        }
        if (how == kSyncfs) {
          group.Sync(root);
        } else if (how == kParallel) {
          std::vector<std::thread> w;
          for (const auto& m : members) w.emplace_back([m] { SyncPath(m + "/obj"); });
          for (auto& x : w) x.join();
        } else {
          for (const auto& m : members) SyncPath(m + "/obj");
        }
      }
    });
  }
  for (auto& x : ts) x.join();
  double secs = Since(t);
  ::close(root);
  return threads * puts / secs;
}

// 6 files of `each` bytes under the given directories, written by one thread with early writeback,
// then flushed, renamed and their names flushed. Returns seconds.
double Large(const std::string& dir, How how, uint64_t each, bool one_dir) {
  std::vector<std::string> dirs;
  for (int i = 0; i < kMembers; ++i) {
    std::string m = one_dir ? dir + "/out" : dir + "/m" + std::to_string(i);
    ::mkdir(m.c_str(), 0755);
    dirs.push_back(m);
  }
  SyncPath(dir);
  std::vector<char> buf(1 << 20, 'y');
  for (size_t i = 0; i < buf.size(); ++i) buf[i] = char(i * 131 + (i >> 9));
  auto t = std::chrono::steady_clock::now();
  std::vector<int> fds;
  std::vector<std::string> tmp, final_name;
  for (int i = 0; i < kMembers; ++i) {
    tmp.push_back(dirs[i] + "/.part" + std::to_string(i));
    final_name.push_back(dirs[i] + "/shard" + std::to_string(i));
    int fd = ::open(tmp.back().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    Check(fd >= 0, "open " + tmp.back());
    fds.push_back(fd);
  }
  uint64_t started = 0;
  for (uint64_t off = 0; off < each; off += buf.size()) {
    for (int fd : fds) WriteAll(fd, buf.data(), buf.size());
    if ((off + buf.size()) - started >= (8u << 20)) {
      for (int fd : fds)
        ::sync_file_range(fd, off64_t(started), off64_t(off + buf.size() - started),
                          SYNC_FILE_RANGE_WRITE);
      started = off + buf.size();
    }
  }
  if (how == kSyncfs) {
    Check(::syncfs(fds[0]) == 0, "syncfs");
  } else if (how == kSerial) {
    for (int fd : fds) Check(::fdatasync(fd) == 0, "fdatasync");
  } else {
    std::vector<std::thread> ts;
    for (int fd : fds) ts.emplace_back([fd] { Check(::fdatasync(fd) == 0, "fdatasync"); });
    for (auto& x : ts) x.join();
  }
  for (int fd : fds) ::close(fd);
  for (int i = 0; i < kMembers; ++i)
    Check(::rename(tmp[i].c_str(), final_name[i].c_str()) == 0, "rename");
  if (one_dir) {
    SyncPath(dirs[0]);
  } else {
    for (const auto& d : dirs) SyncPath(d);
  }
  return Since(t);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: flush_bench DIR small|large|encode syncfs|fdatasync ARGS...\n");
    return 2;
  }
  const std::string dir = argv[1], shape = argv[2], how = argv[3];
  if (how != "syncfs" && how != "fdatasync" && (how != "pfdatasync" || shape != "small") &&
      (how != "sfdatasync" || shape == "small")) {
    return 2;
  }
  const bool syncfs = how == "syncfs";
  const uint64_t before = SectorsWritten(dir);
  if (shape == "small" && argc == 6) {
    const How h = syncfs ? kSyncfs : how == "fdatasync" ? kSerial : kParallel;
    double rate = Small(dir, h, std::atoi(argv[4]), std::atoi(argv[5]));
    std::printf("%.0f %.0f\n", rate, double(SectorsWritten(dir) - before) * 512 / (1 << 20));
  } else if ((shape == "large" || shape == "encode") && argc == 5) {
    uint64_t mib = std::strtoull(argv[4], nullptr, 10);
    const How h = syncfs ? kSyncfs : how == "sfdatasync" ? kSerial : kParallel;
    double secs = Large(dir, h, (mib << 20) / 4, shape == "encode");
    std::printf("%.3f %.0f\n", secs, double(SectorsWritten(dir) - before) * 512 / (1 << 20));
  } else {
    std::fprintf(stderr, "flush_bench: bad arguments\n");
    return 2;
  }
  return 0;
}
