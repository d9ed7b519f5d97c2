// DecodeKeyEntry on directory entry names read from a volume (listing, gc). It must accept only
// names that KeyPaths produces: otherwise a planted or damaged entry such as `%61=` lists as key
// `a` beside the real `a=` (a duplicate, or a key whose files are elsewhere), or `x%2F=` as `x/`.
// So an accepted name re-encodes to itself.
// Coverage: libstore/format/key_path.cc cairn::DecodeKeyEntry(
#include "libstore/format/key_path.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cairn;
  std::string_view name(reinterpret_cast<const char*>(data), size);
  std::string text;
  KeyEntry kind;
  if (!DecodeKeyEntry(name, &text, &kind)) return 0;
  FUZZ_CHECK(!name.empty());
  const std::string body(name.substr(0, name.size() - 1));
  // One chunk of one segment: no separator, no NUL (no valid key holds one), at most kMaxChunk
  // bytes once escaped.
  FUZZ_CHECK(text.find('/') == std::string::npos);
  FUZZ_CHECK(text.find('\0') == std::string::npos);
  FUZZ_CHECK(body.size() <= kMaxChunk);
  switch (kind) {
    case KeyEntry::kObject:
      FUZZ_CHECK(name.back() == '=');
      FUZZ_CHECK(KeyPaths("b", text).meta == "b/" + std::string(name));
      break;
    case KeyEntry::kSegment:
      FUZZ_CHECK(name.back() == '~');
      FUZZ_CHECK(KeyPaths("b", text + "/x").dir == "b/" + std::string(name));
      break;
    case KeyEntry::kChunk:
      FUZZ_CHECK(name.back() == '+');
      // A segment is cut only where the next byte (at most 3 escaped) would not fit.
      FUZZ_CHECK(body.size() + 3 > kMaxChunk);
      FUZZ_CHECK(KeyPaths("b", text).meta == "b/" + body + "=");
      break;
  }
  return 0;
}
