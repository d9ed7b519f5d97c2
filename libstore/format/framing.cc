#include "libstore/format/framing.h"

#include <cstring>

#include "libstore/common/hash.h"

namespace cairn {

uint64_t ChunkSum(const void* chunk, size_t len, uint64_t seed) {
  // XXH3 with seed 0 is XXH3 unseeded: volume sets and shard files share the one function.
  return Xxh3_64(chunk, len, seed);
}

Status AppendFramed(WritableFile& f, const void* chunk, size_t len, uint64_t sum) {
  ConstBuf bufs[2] = {{chunk, len}, {&sum, kChecksumLen}};
  return f.AppendV(bufs, 2);
}

void AppendFramed(std::string* out, const void* chunk, size_t len, uint64_t sum) {
  out->append(static_cast<const char*>(chunk), len);
  out->append(reinterpret_cast<const char*>(&sum), kChecksumLen);
}

ChunkRead ReadFramed(ReadableFile& f, uint64_t off, size_t len, uint64_t seed, uint8_t* buf) {
  ChunkRead out;
  auto r = f.ReadAt(off, buf, len + kChecksumLen);
  if (!r.ok()) {
    out.error = r.status();
    return out;
  }
  out.bytes = *r;
  if (*r != len + kChecksumLen) {
    out.state = ChunkState::kBad;
    return out;
  }
  out.state = FramedGood(buf, len, seed) ? ChunkState::kGood : ChunkState::kBad;
  return out;
}

bool FramedGood(const uint8_t* framed, size_t len, uint64_t seed) {
  uint64_t sum;
  std::memcpy(&sum, framed + len, kChecksumLen);
  return ChunkSum(framed, len, seed) == sum;
}

}  // namespace cairn
