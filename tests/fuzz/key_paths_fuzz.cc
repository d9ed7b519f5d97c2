// KeyPaths on any key ValidateKey accepts (keys come from users, later from the network): every
// path component must be a safe, short file name (never empty, `.` or `..`, no NUL, room for the
// shard suffix within NAME_MAX), and decoding the components with DecodeKeyEntry gives back the
// key.
// Coverage: libstore/format/key_path.cc cairn::KeyPaths(
// Coverage: libstore/format/key_path.cc cairn::(anonymous namespace)::AppendSegment(
#include "libstore/format/key_path.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cairn;
  std::string_view key(reinterpret_cast<const char*>(data), size);
  if (!ValidateKey(key).ok()) {
    FUZZ_CHECK(key.empty() || key.size() > kMaxKeyLen || key.find('\0') != std::string_view::npos);
    return 0;
  }
  const std::string bucket = "bkt";
  const ObjectPaths p = KeyPaths(bucket, key);
  FUZZ_CHECK(p.meta.compare(0, bucket.size() + 1, bucket + "/") == 0);
  FUZZ_CHECK(p.meta.size() > p.dir.size() + 1);
  FUZZ_CHECK(p.meta.compare(0, p.dir.size() + 1, p.dir + "/") == 0);
  FUZZ_CHECK(p.meta.find('/', p.dir.size() + 1) == std::string::npos);
  FUZZ_CHECK(p.meta.back() == '=');

  std::string decoded;
  size_t start = bucket.size() + 1;
  while (true) {
    size_t slash = p.meta.find('/', start);
    const bool last = slash == std::string::npos;
    const std::string comp = p.meta.substr(start, last ? std::string::npos : slash - start);
    FUZZ_CHECK(!comp.empty() && comp != "." && comp != "..");
    FUZZ_CHECK(comp.find('\0') == std::string::npos);
    // A shard file is the metadata name plus 32 hex digits.
    FUZZ_CHECK(comp.size() + 32 <= 255);
    std::string text;
    KeyEntry kind;
    FUZZ_CHECK(DecodeKeyEntry(comp, &text, &kind));
    FUZZ_CHECK(last == (kind == KeyEntry::kObject));
    decoded += text;
    if (kind == KeyEntry::kSegment) decoded += '/';
    if (last) break;
    start = slash + 1;
  }
  FUZZ_CHECK(decoded == key);
  return 0;
}
