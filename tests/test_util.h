// Shared helpers for the libstore tests: in-memory sources and sinks, seeded random data, and a
// fixture that builds an ErasureSet over MemVolumes (each wrapped in a FaultyVolume).
#pragma once

#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "libstore/common/clock.h"
#include "libstore/common/hash.h"
#include "libstore/object/erasure_set.h"
#include "libstore/volume/faulty_volume.h"

namespace cairn::test {

// The MD5 of s, in hex (an S3 ETag's body) and as its 16 bytes.
inline std::string Md5Hex(const std::string& s) {
  Md5Stream m;
  m.Update(s.data(), s.size());
  return m.FinalHex();
}
inline std::array<uint8_t, 16> Md5Digest(const std::string& s) {
  Md5Stream m;
  m.Update(s.data(), s.size());
  std::array<uint8_t, 16> d;
  m.Final(d.data());
  return d;
}

class StringSource : public Source {
 public:
  explicit StringSource(std::string s, size_t piece = SIZE_MAX) : s_(std::move(s)), piece_(piece) {}
  Result<size_t> Read(void* buf, size_t n) override {
    size_t c = std::min({n, s_.size() - off_, piece_});
    std::memcpy(buf, s_.data() + off_, c);
    off_ += c;
    return c;
  }

 private:
  std::string s_;
  size_t piece_;
  size_t off_ = 0;
};

// A source that fails after `fail_after` bytes.
class FailingSource : public Source {
 public:
  FailingSource(std::string s, size_t fail_after) : s_(std::move(s)), fail_after_(fail_after) {}
  Result<size_t> Read(void* buf, size_t n) override {
    if (off_ >= fail_after_) return IOError("source: injected read error");
    size_t c = std::min({n, s_.size() - off_, fail_after_ - off_});
    std::memcpy(buf, s_.data() + off_, c);
    off_ += c;
    return c;
  }

 private:
  std::string s_;
  size_t fail_after_, off_ = 0;
};

class StringSink : public Sink {
 public:
  Status Write(const void* d, size_t n) override {
    out.append(static_cast<const char*>(d), n);
    return Status::Ok();
  }
  std::string out;
};

inline std::string RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v = rng();
    std::memcpy(&s[i], &v, 8);
  }
  for (; i < n; ++i) s[i] = char(rng());
  return s;
}

struct SetFixture;

// Closes f's set when it goes out of scope. Declare it right after a volume wrapper that the set is
// reopened over (f.vols[i] = &wrapper): locals go in reverse order, so the set, which touches its
// volumes as it closes, is closed while the wrapper still exists.
struct CloseSetFirst {
  SetFixture& f;
  ~CloseSetFirst();
};

struct SetFixture {
  std::vector<std::unique_ptr<Volume>> mem;
  std::vector<std::unique_ptr<FaultyVolume>> faulty;
  std::vector<Volume*> vols;  // what the set sees (nullptr = offline)
  SetParams params;
  ManualClock clock;  // the set's clock: the wall clock until a test sets it
  std::unique_ptr<ErasureSet> set;

  SetFixture(uint32_t k, uint32_t m, uint32_t block_size = 64 << 10, uint32_t inline_limit = 16 << 10) {
    params.k = k;
    params.m = m;
    params.block_size = block_size;
    params.inline_limit = inline_limit;
    for (uint32_t i = 0; i < k + m; ++i) {
      mem.push_back(NewMemVolume("v" + std::to_string(i)));
      faulty.push_back(std::make_unique<FaultyVolume>(mem.back().get(), 1000 + i));
      Status s = mem.back()->MakeDirs(".cairn/tmp");
      s = mem.back()->MakeDirs(".cairn/mrf");
      s.IgnoreError();
      vols.push_back(faulty.back().get());
    }
    Reopen();
  }
  // Re-creates the ErasureSet over `vols` (after taking volumes offline or back).
  void Reopen() {
    auto r = ErasureSet::Open(vols, params, "", &clock);
    set = r.ok() ? std::move(r).value() : nullptr;
  }
  Status Put(const std::string& bucket, const std::string& key, const std::string& data,
             EtagMode etag = EtagMode::kMd5) {
    StringSource src(data, 100000);
    PutOptions po;
    po.etag = etag;
    po.fsync = true;
    return set->PutObject(bucket, key, src, po).status();
  }
  Result<std::string> Get(const std::string& bucket, const std::string& key,
                          std::optional<GetRange> r = std::nullopt) {
    StringSink sink;
    GetOptions o;
    o.range = r;
    auto info = set->GetObject(bucket, key, sink, o);
    if (!info.ok()) return info.status();
    return sink.out;
  }
  // Paths of every file below dir on volume i (recursive).
  std::vector<std::string> Files(size_t i, const std::string& dir) {
    std::vector<std::string> out;
    auto entries = mem[i]->ListDir(dir);
    if (!entries.ok()) return out;
    for (const auto& e : *entries) {
      std::string p = dir.empty() ? e.name : dir + "/" + e.name;
      if (e.is_dir()) {
        auto sub = Files(i, p);
        out.insert(out.end(), sub.begin(), sub.end());
      } else {
        out.push_back(p);
      }
    }
    return out;
  }
};

inline CloseSetFirst::~CloseSetFirst() { f.set.reset(); }

// The kernel's ids of this process's threads (not reused while a test runs, unlike pthread_t).
inline std::set<long> LiveThreadIds() {
  std::set<long> ids;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/task"))
    ids.insert(std::stol(e.path().filename().string()));
  return ids;
}

// Counts the BypassCache hints given to the files it opens (every other call is forwarded), and
// of the appends after a hint whose first piece is at least kDirectAppendAlign bytes, those whose
// address is congruent to their file offset modulo kDirectAppendAlign (written without a copy).
// append_threads: the kernel ids of the threads that appended (one at a time per volume: each
// file of an erasure set PUT has one writer).
class BypassCounter : public VolumeWrapper {
 public:
  using VolumeWrapper::VolumeWrapper;
  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& p) override {
    ASSIGN_OR_RETURN(auto f, VolumeWrapper::NewWritableFile(p));
    return std::unique_ptr<WritableFile>(new File(std::move(f), this));
  }
  int hints = 0;
  int congruent = 0, incongruent = 0;
  std::set<long> append_threads;

 private:
  class File : public WritableFile {
   public:
    File(std::unique_ptr<WritableFile> f, BypassCounter* c) : f_(std::move(f)), c_(c) {}
    Status AppendV(const ConstBuf* b, int n) override {
      c_->append_threads.insert(long(syscall(SYS_gettid)));
      if (hinted_ && n > 0 && b[0].size >= kDirectAppendAlign) {
        const uintptr_t at = reinterpret_cast<uintptr_t>(b[0].data);
        ++((at - offset_) % kDirectAppendAlign == 0 ? c_->congruent : c_->incongruent);
      }
      for (int i = 0; i < n; ++i) offset_ += b[i].size;
      return f_->AppendV(b, n);
    }
    Status WriteAt(uint64_t o, const void* d, size_t n) override { return f_->WriteAt(o, d, n); }
    Status Sync() override { return f_->Sync(); }
    void StartWriteback() override { f_->StartWriteback(); }
    void BypassCache() override {
      ++c_->hints;
      hinted_ = true;
      f_->BypassCache();
    }
    Status Close() override { return f_->Close(); }
    Result<FileInfo> StatOpen() override { return f_->StatOpen(); }
    Result<uint64_t> AppendFrom(ReadableFile& src, uint64_t off, uint64_t len) override {
      auto r = f_->AppendFrom(src, off, len);
      if (r.ok()) offset_ += *r;
      return r;
    }

   private:
    std::unique_ptr<WritableFile> f_;
    BypassCounter* c_;
    bool hinted_ = false;
    uint64_t offset_ = 0;
  };
};

}  // namespace cairn::test
