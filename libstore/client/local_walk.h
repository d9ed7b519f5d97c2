// A streaming walk of a local directory tree in S3 key order, for `cairn sync` (and cp -r):
// the files below a root as keys relative to it ("dir/a.txt"), ordered as S3 lists keys: by the
// bytes of the whole key. So "a-b" < "a/b" < "ab": a directory "a" sorts among its siblings as
// "a/", which is not where its name alone would put it.
//
// Memory: one sorted listing per directory on the current path (depth x the widest directory),
// never the whole tree.
//
// What is walked: regular files, and symlinks to regular files (followed: the key is the link's
// name, size and mtime the target's). Symlinks to directories are followed when
// follow_dir_symlinks (a source tree), never entered twice on one path (a loop is reported, by
// the dev/ino of the directories on the stack); they are left out silently otherwise (a
// destination tree, where --delete must never reach outside the root). Devices, FIFOs, sockets,
// dangling symlinks and unreadable directories are reported to on_problem (with the path) and
// skipped: the walk goes on.
//
// Thread safety: one walker per thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "libstore/common/status.h"

namespace cairn::s3 {

struct LocalFile {
  std::string key;   // relative to the root, '/'-separated
  std::string path;  // root + "/" + key, to open
  uint64_t size = 0;
  int64_t mtime_ns = 0;  // since the epoch
};

struct LocalWalkOptions {
  bool follow_dir_symlinks = true;
  // Told of every entry that is skipped for a reason the user should hear about; may be empty.
  std::function<void(const Status&)> on_problem;
};

class LocalWalker {
 public:
  // A walk below root (a directory). kNotFound when root does not exist, kInvalidArgument when it
  // is not a directory, PosixError when it cannot be read.
  static Result<std::unique_ptr<LocalWalker>> Open(const std::string& root,
                                                   LocalWalkOptions opts = {});
  // The next file in key order into *out; false at the end. Problems below the root do not fail
  // the walk (on_problem); an error here is a broken invariant only.
  Result<bool> Next(LocalFile* out);

 private:
  struct Item {
    std::string name;
    std::string sort_key;  // name, or name + '/' for a directory
    bool dir = false;
    uint64_t size = 0;
    int64_t mtime_ns = 0;
  };
  struct Frame {
    std::string prefix;  // key prefix of this directory ("" or "dir/sub/")
    dev_t dev = 0;
    ino_t ino = 0;
    std::vector<Item> items;
    size_t next = 0;
  };
  explicit LocalWalker(std::string root, LocalWalkOptions opts)
      : root_(std::move(root)), opts_(std::move(opts)) {}
  // Lists, stats and sorts one directory into a new frame on the stack.
  void Push(const std::string& prefix, dev_t dev, ino_t ino);
  void Problem(const Status& s) const;

  std::string root_;
  LocalWalkOptions opts_;
  std::vector<Frame> stack_;
};

}  // namespace cairn::s3
