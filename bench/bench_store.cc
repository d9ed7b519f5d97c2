// Layer "store": PUT and GET through a 4+2 ErasureSet whose members live in one directory tree,
// measured beside plain sequential file I/O of the same shard bytes, in the same run.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <random>
#include <thread>

#include "bench/bench.h"
#include "libstore/common/hash.h"
#include "libstore/object/set_open.h"

namespace cairn::bench {
namespace {

// Writes `files` files of `each` bytes sequentially in 1 MiB pieces; returns seconds.
double PlainWrite(const std::string& dir, int files, uint64_t each, const std::string& pattern,
                  bool fsync) {
  auto t = std::chrono::steady_clock::now();
  for (int f = 0; f < files; ++f) {
    std::string path = dir + "/plain." + std::to_string(f);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    for (uint64_t done = 0; done < each;) {
      size_t c = size_t(std::min<uint64_t>(1 << 20, each - done));
      if (::write(fd, pattern.data() + (done % (pattern.size() - (1 << 20))), c) < 0) break;
      done += c;
    }
    if (fsync) ::fsync(fd);
    ::close(fd);
  }
  return SecondsSince(t);
}

double PlainRead(const std::string& dir, int files) {
  static std::string buf(4 << 20, '\0');
  auto t = std::chrono::steady_clock::now();
  for (int f = 0; f < files; ++f) {
    std::string path = dir + "/plain." + std::to_string(f);
    int fd = ::open(path.c_str(), O_RDONLY);
    while (::read(fd, buf.data(), buf.size()) > 0) {
    }
    ::close(fd);
  }
  return SecondsSince(t);
}

}  // namespace

Result<std::vector<Row>> RunStore(const Options& o) {
  std::vector<Row> rows;
  Scratch scratch(o.dir);
  if (scratch.root.empty()) return PosixError(o.dir + ": scratch directory", scratch.error);
  const uint32_t k = uint32_t(o.k), m = uint32_t(o.m), n = k + m;
  std::vector<std::string> dirs;
  for (uint32_t i = 0; i < n; ++i) dirs.push_back(scratch.root + "/d" + std::to_string(i + 1));
  SetParams p;
  p.k = k;
  p.m = m;
  RETURN_IF_ERROR(InitSet(dirs, p, false));
  ASSIGN_OR_RETURN(OpenedSet opened, OpenSet(dirs));
  ErasureSet& set = *opened.set;
  RETURN_IF_ERROR(set.MakeBucket("bench"));

  std::string pattern(64 << 20, '\0');
  std::mt19937_64 rng(42);
  for (size_t i = 0; i + 8 <= pattern.size(); i += 8) {
    uint64_t v = rng();
    std::memcpy(&pattern[i], &v, 8);
  }
  const double gib = 1024.0 * 1024 * 1024;

  // Large objects: one of `size` bytes (default 1 GiB) and several of 10 MiB.
  const uint64_t big = o.size ? o.size : (uint64_t(1) << 30);
  struct Case {
    uint64_t size;
    int count;
  };
  for (Case c : {Case{big, 1}, Case{10 << 20, 16}}) {
    const uint64_t total = c.size * uint64_t(c.count);
    const uint64_t shard_each = (c.size + k - 1) / k * uint64_t(c.count);
    std::string label = c.size >= (1u << 30) ? std::to_string(c.size >> 30) + " GiB"
                                             : std::to_string(c.size >> 20) + " MiB";
    if (c.count > 1) label = std::to_string(c.count) + " x " + label;
    for (bool fsync : {false, true}) {
      std::vector<double> put_fast, put_md5, put_crc, ref_write, get, ref_read;
      // Every timed step starts from the same state: what earlier steps left (dirty pages, old
      // versions to unlink) is cleared first, untimed, for our runs and the references alike.
      auto settle = [&] {
        for (int i = 0; i < c.count; ++i)
          set.DeleteObject("bench", "obj" + std::to_string(i)).IgnoreError();
        for (uint32_t f = 0; f < n; ++f)
          ::unlink((scratch.root + "/plain." + std::to_string(f)).c_str());
        ::sync();
      };
      // Warm-up, untimed: in this kind of VM the first touch of a page the guest never used costs
      // ~13 us, so whichever side ran first would pay for the whole page cache.
      for (int w = 0; w < 2; ++w) {
        settle();
        PlainWrite(scratch.root, int(n), shard_each, pattern, false);
      }
      for (int r = 0; r < o.runs; ++r) {
        settle();
        ref_write.push_back(total / gib /
                            PlainWrite(scratch.root, int(n), shard_each, pattern, fsync));
        ::sync();
        ref_read.push_back(total / gib / PlainRead(scratch.root, int(k)));
        // The third variant: an MD5 ETag plus the CRC32 that current S3 SDKs ask for on every
        // upload (computed beside the MD5, so it should cost next to nothing).
        for (int variant = 0; variant < 3; ++variant) {
          const EtagMode mode = variant == 0 ? EtagMode::kFast : EtagMode::kMd5;
          if (fsync && mode == EtagMode::kMd5) continue;
          settle();
          PutOptions po;
          po.fsync = fsync;
          po.etag = mode;
          if (variant == 2) po.checksum_algorithm = ChecksumAlgorithm::kCrc32;
          auto t = std::chrono::steady_clock::now();
          for (int i = 0; i < c.count; ++i) {
            PatternSource src(pattern, c.size);
            RETURN_IF_ERROR(set.PutObject("bench", "obj" + std::to_string(i), src, po).status());
          }
          (variant == 0   ? put_fast
           : variant == 1 ? put_md5
                          : put_crc)
              .push_back(total / gib / SecondsSince(t));
        }
        if (!fsync) {
          ::sync();
          auto t = std::chrono::steady_clock::now();
          for (int i = 0; i < c.count; ++i) {
            NullSink sink;
            RETURN_IF_ERROR(set.GetObject("bench", "obj" + std::to_string(i), sink).status());
          }
          get.push_back(total / gib / SecondsSince(t));
        }
      }
      if (!fsync) {
        rows.push_back(MakeRow("store", "put " + label + " (fast etag, no fsync)", "GiB/s",
                               put_fast, "plain write of the shard bytes", ref_write, 0.5));
        rows.push_back(MakeRow("store", "put " + label + " (md5 etag, no fsync)", "GiB/s", put_md5,
                               "OpenSSL MD5, one core", {}, 0.85));
        rows.push_back(MakeRow("store", "put " + label + " (md5 etag + crc32, no fsync)", "GiB/s",
                               put_crc, "the md5-etag put of this run", put_md5, 0.95));
        rows.push_back(MakeRow("store", "get " + label, "GiB/s", get,
                               "plain read of the K data shards", ref_read, 0.7));
      } else {
        rows.push_back(MakeRow("store", "put " + label + " (fast etag, fsync)", "GiB/s", put_fast,
                               "plain write + fsync of the shard bytes", ref_write, 0));
      }
    }
  }
  for (int i = 0; i < 16; ++i) set.DeleteObject("bench", "obj" + std::to_string(i)).IgnoreError();
  for (uint32_t f = 0; f < n; ++f) ::unlink((scratch.root + "/plain." + std::to_string(f)).c_str());
  // MD5 reference for the md5-etag rows, measured in this run.
  {
    std::vector<double> md5;
    for (int r = 0; r < o.runs; ++r) {
      Md5Stream h;
      auto t = std::chrono::steady_clock::now();
      for (size_t off = 0; off < pattern.size(); off += 1 << 20)
        h.Update(pattern.data() + off, 1 << 20);
      h.FinalHex();
      md5.push_back(pattern.size() / gib / SecondsSince(t));
    }
    for (auto& r : rows) {
      if (r.reference_name == "OpenSSL MD5, one core") {
        r.reference_median = Median(md5);
        r.ratio = r.median / r.reference_median;
      }
    }
  }

  // Small objects: 4 KiB, inline, 16 threads in this process. Each run PUTs new keys (every PUT
  // creates a key directory and a metadata file per volume), then overwrites them (the first
  // overwrite of a key also keeps the previous copy beside its metadata file: one more name per
  // member), then overwrites them again (steady state: the copies are swapped in place), then
  // GETs them.
  const int threads = 16;
  std::string small(4096, 'x');
  for (bool fsync : {false, true}) {
    const int per_thread = fsync ? 64 : 512;
    std::vector<double> create_rate, overwrite_rate, again_rate, get_rate;
    for (int r = 0; r < o.runs; ++r) {
      std::atomic<int> fails{0};
      auto key = [&](int th, int i) {
        return "small/" + std::string(fsync ? "f" : "n") + std::to_string(r) + "/" +
               std::to_string(th) + "/" + std::to_string(i);
      };
      auto put_all = [&] {
        auto t = std::chrono::steady_clock::now();
        std::vector<std::thread> ts;
        for (int th = 0; th < threads; ++th) {
          ts.emplace_back([&, th] {
            PutOptions po;
            po.fsync = fsync;
            for (int i = 0; i < per_thread; ++i) {
              PatternSource src(small, small.size());
              if (!set.PutObject("bench", key(th, i), src, po).ok()) ++fails;
            }
          });
        }
        for (auto& x : ts) x.join();
        return threads * per_thread / SecondsSince(t);
      };
      create_rate.push_back(put_all());
      overwrite_rate.push_back(put_all());
      again_rate.push_back(put_all());
      auto t = std::chrono::steady_clock::now();
      std::vector<std::thread> ts;
      for (int th = 0; th < threads; ++th) {
        ts.emplace_back([&, th] {
          for (int i = 0; i < per_thread; ++i) {
            NullSink sink;
            if (!set.GetObject("bench", key(th, i), sink).ok()) ++fails;
          }
        });
      }
      for (auto& x : ts) x.join();
      get_rate.push_back(threads * per_thread / SecondsSince(t));
      if (fails > 0) return IOError(std::to_string(fails) + " small-object puts or gets failed");
    }
    double put_target = fsync ? 500 : 5000;
    auto verdict = [](double v, double target) {
      return "target >= " + std::to_string(int(target)) + "/s: " + (v >= target ? "pass" : "FAIL");
    };
    std::string mode = fsync ? "fsync" : "no fsync";
    rows.push_back(MakeRow("store", "put 4 KiB x16 threads, new keys (" + mode + ")", "objects/s",
                           create_rate, "", {}, 0, verdict(Median(create_rate), put_target)));
    rows.push_back(MakeRow("store", "put 4 KiB x16 threads, overwrite (" + mode + ")", "objects/s",
                           overwrite_rate, "", {}, 0, verdict(Median(overwrite_rate), put_target)));
    rows.push_back(MakeRow("store", "put 4 KiB x16 threads, overwrite again (" + mode + ")",
                           "objects/s", again_rate, "", {}, 0,
                           verdict(Median(again_rate), put_target)));
    if (!fsync) {
      rows.push_back(MakeRow("store", "get 4 KiB x16 threads", "objects/s", get_rate, "", {}, 0,
                             verdict(Median(get_rate), 15000)));
    }
  }
  return rows;
}

}  // namespace cairn::bench
