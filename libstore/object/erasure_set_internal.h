// Helpers shared by the erasure_set*.cc files; not part of the library's API.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>

#include "libstore/volume/volume.h"

namespace cairn {

// An in-memory framed shard (an inline object's, inside its metadata) read like a file. Does not
// own the bytes.
class StringFile : public ReadableFile {
 public:
  explicit StringFile(const std::string& s) : s_(s) {}
  Result<size_t> ReadAt(uint64_t off, void* buf, size_t n) override {
    if (off >= s_.size()) return size_t(0);
    size_t c = std::min<uint64_t>(n, s_.size() - off);
    std::memcpy(buf, s_.data() + off, c);
    return c;
  }
  Result<uint64_t> Size() override { return uint64_t(s_.size()); }

 private:
  const std::string& s_;
};

}  // namespace cairn

#include "libstore/object/erasure_set.h"

namespace cairn {

// Verify, and with `heal` heal, of a multipart object `ref` (the version picked from metas, as
// read): the metadata copies, every part's shard files (size; deep, and always when healing:
// every block's checksum). Fills h's problems, blocks, lost blocks and health; heal rebuilds
// damaged part files and metadata copies and sets action, healed and after
// (erasure_set_heal_multipart.cc).
void ExamineMultipart(SetCore& core, const CheckOptions& o, const std::string& bucket,
                      const std::string& key, const ObjectMeta& ref,
                      const std::vector<MetaRead>& metas, bool heal, ObjectHealth* h);

}  // namespace cairn
