// Test helpers on real files and volumes: a temp directory; PlainDir over a MemVolume, a
// LocalVolume in a temp directory, or either wrapped in a FaultyVolume; an ErasureSet over
// LocalVolumes; a byte flipped in a file and the shard file of an object, for bitrot.
#pragma once

#include <catch2/catch.hpp>
#include <filesystem>

#include "libstore/format/key_path.h"
#include "libstore/plain/plain_dir.h"
#include "tests/test_util.h"

namespace cairn::test {

class PlainTmpDir {
 public:
  PlainTmpDir() {
    char tmpl[] = "/tmp/cairn-plain-test-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path_ = tmpl;
  }
  ~PlainTmpDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// kind: "mem", "local" (root is <tmp>/root, so an escape would show in <tmp>), "faulty" (a
// FaultyVolume over a MemVolume).
struct PlainFixture {
  explicit PlainFixture(const std::string& kind, PlainDirOptions o = {}) : kind(kind) {
    if (kind == "local") {
      tmp = std::make_unique<PlainTmpDir>();
      root = tmp->path() + "/root";
      std::filesystem::create_directory(root);
      base = NewLocalVolume(root);
    } else {
      base = NewMemVolume("plain");
    }
    faulty = std::make_unique<FaultyVolume>(base.get(), 77);
    vol = kind == "faulty" ? static_cast<Volume*>(faulty.get()) : base.get();
    opts = o;
    Reopen();
  }
  void Reopen() {
    store.reset();
    auto r = PlainDir::Open(vol, opts);
    REQUIRE(r.ok());
    store = std::move(r).value();
  }
  Status Put(const std::string& bucket, const std::string& key, const std::string& data,
             PutOptions po = {}) {
    StringSource src(data, 70000);
    return store->PutObject(bucket, key, src, po).status();
  }
  Result<std::string> Get(const std::string& bucket, const std::string& key,
                          std::optional<GetRange> r = std::nullopt) {
    StringSink sink;
    GetOptions o;
    o.range = r;
    auto info = store->GetObject(bucket, key, sink, o);
    if (!info.ok()) return info.status();
    return sink.out;
  }

  std::string kind;
  std::unique_ptr<PlainTmpDir> tmp;
  std::string root;
  std::unique_ptr<Volume> base;
  std::unique_ptr<FaultyVolume> faulty;
  Volume* vol = nullptr;
  PlainDirOptions opts;
  std::unique_ptr<PlainDir> store;
};

// An ErasureSet over LocalVolumes, one directory each in a temp directory (so reads can go out
// with sendfile); Reopen() is a restart.
struct LocalSet {
  PlainTmpDir tmp;
  std::vector<std::unique_ptr<Volume>> vols;
  std::unique_ptr<ErasureSet> set;
  SetParams params;
  explicit LocalSet(uint32_t k = 4, uint32_t m = 2, uint32_t block_size = 256 << 10) {
    params.k = k;
    params.m = m;
    params.block_size = block_size;
    params.inline_limit = 16 << 10;
    for (uint32_t i = 0; i < k + m; ++i) {
      const std::string dir = tmp.path() + "/v" + std::to_string(i);
      std::filesystem::create_directory(dir);
      vols.push_back(NewLocalVolume(dir));
      REQUIRE(vols.back()->MakeDirs(".cairn/tmp").ok());
      REQUIRE(vols.back()->MakeDirs(".cairn/mrf").ok());
    }
    Reopen();
  }
  void Reopen() {
    set.reset();
    std::vector<Volume*> v;
    for (auto& u : vols) v.push_back(u.get());
    auto r = ErasureSet::Open(v, params);
    REQUIRE(r.ok());
    set = std::move(r).value();
  }
};

// Flips the byte at offset of the file (which must reach it), keeping its length.
inline void FlipByte(Volume& v, const std::string& path, uint64_t offset) {
  auto data = v.ReadFile(path, 1 << 30);
  REQUIRE(data.ok());
  REQUIRE(offset < data->size());  // the damage must hit bytes that exist
  (*data)[offset] ^= 0x5a;
  REQUIRE(v.WriteFile(path, *data, false).ok());
}

// A volume-set member's shard file of an object: the file beside its metadata named meta + data
// id; "" when there is none.
inline std::string ShardFileOn(Volume& v, const std::string& bucket, const std::string& key) {
  ObjectPaths p = KeyPaths(bucket, key);
  auto entries = v.ListDir(p.dir);
  if (!entries.ok()) return "";
  std::string base = p.meta.substr(p.dir.size() + 1);
  for (const auto& e : *entries) {
    if (e.name.size() == base.size() + 32 && e.name.compare(0, base.size(), base) == 0) {
      return p.dir + "/" + e.name;
    }
  }
  return "";
}

}  // namespace cairn::test
