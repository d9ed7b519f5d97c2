// Test helpers for PlainDir: a store over a MemVolume, a LocalVolume in a temp directory, or either
// wrapped in a FaultyVolume.
#pragma once

#include <catch2/catch.hpp>
#include <filesystem>

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

}  // namespace cairn::test
