// DecodeListToken on continuation tokens (handed back by clients, later over the network). An
// accepted token is exactly the encoding of what it decodes to, and its marker could have come
// from a listing (1..kMaxKeyLen bytes). The other way round, every token round-trips.
// Coverage: libstore/object/list_token.cc cairn::DecodeListToken(
#include "libstore/format/key_path.h"
#include "libstore/object/list_token.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cairn;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  ListToken t;
  if (DecodeListToken(in, &t)) {
    FUZZ_CHECK(!t.marker.empty() && t.marker.size() <= kMaxKeyLen);
    FUZZ_CHECK(EncodeListToken(t) == in);
  }
  // The input as a token: first byte says which kind, the rest is the marker.
  if (size >= 2 && size - 1 <= kMaxKeyLen) {
    ListToken orig{std::string(in.substr(1)), (data[0] & 1) != 0};
    const std::string tok = EncodeListToken(orig);
    ListToken back;
    FUZZ_CHECK(DecodeListToken(tok, &back));
    FUZZ_CHECK(back.marker == orig.marker && back.is_prefix == orig.is_prefix);
  }
  return 0;
}
