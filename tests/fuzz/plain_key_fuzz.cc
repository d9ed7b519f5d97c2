// MapPlainKey on any bytes (keys come from the network): an accepted key maps to a path that
// ValidateRelPath accepts, lies beneath its bucket's directory, never names the root's state
// directory, and maps back to the key (PlainKeyOf); a refused key broke a rule the refusal can
// name. The first byte picks the bucket, so bucket names are fuzzed too.
// Coverage: libstore/plain/key_map.cc cairn::MapPlainKey(
// Coverage: libstore/plain/key_map.cc cairn::ValidatePlainKey(
// Coverage: libstore/plain/key_map.cc cairn::ValidatePlainBucketName(
#include "libstore/plain/key_map.h"
#include "libstore/volume/volume.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cairn;
  if (size == 0) return 0;
  // First byte: low bits choose a bucket, or (0x80 set) the next bytes up to a ':' are the bucket.
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string bucket = "bkt";
  if (data[0] & 0x80) {
    size_t colon = in.find(':');
    if (colon == std::string_view::npos) return 0;
    bucket = std::string(in.substr(0, colon));
    in.remove_prefix(colon + 1);
  }
  const std::string_view key = in;
  auto m = MapPlainKey(bucket, key);
  if (!m.ok()) {
    const Code c = m.status().code();
    FUZZ_CHECK(c == Code::kInvalidArgument || c == Code::kKeyTooLong ||
               c == Code::kInvalidBucketName);
    if (c == Code::kKeyTooLong) FUZZ_CHECK(key.size() > kPlainMaxKeyLen);
    if (c == Code::kInvalidBucketName) FUZZ_CHECK(!ValidatePlainBucketName(bucket).ok());
    return 0;
  }
  FUZZ_CHECK(ValidatePlainBucketName(bucket).ok());
  FUZZ_CHECK(bucket != kPlainStateDir);
  FUZZ_CHECK(!key.empty() && key.size() <= kPlainMaxKeyLen);
  FUZZ_CHECK(ValidateRelPath(m->path).ok());
  FUZZ_CHECK(m->path.compare(0, bucket.size() + 1, bucket + "/") == 0);
  FUZZ_CHECK(m->path.size() > bucket.size() + 1);
  FUZZ_CHECK(m->marker == (key.back() == '/'));
  FUZZ_CHECK(PlainKeyOf(std::string_view(m->path).substr(bucket.size() + 1), m->marker) == key);
  return 0;
}
