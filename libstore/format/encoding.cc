#include "libstore/format/encoding.h"

#include <sys/random.h>

#include <cstdlib>
#include <cstring>

#include "libstore/common/hash.h"

namespace cairn {

void Seal(std::string* out) {
  uint64_t sum = Xxh3_64(out->data(), out->size());
  out->append(reinterpret_cast<const char*>(&sum), 8);
}

bool OpenSealed(std::string_view in, const char (&magic)[8], uint32_t version, Reader* body) {
  if (in.size() < 8 + 4 + 8 || std::memcmp(in.data(), magic, 8) != 0) return false;
  uint64_t sum;
  std::memcpy(&sum, in.data() + in.size() - 8, 8);
  if (Xxh3_64(in.data(), in.size() - 8) != sum) return false;
  *body = Reader(in.substr(0, in.size() - 8));
  char m[8];
  body->Bytes(m, 8);
  return body->U32() == version;
}

Uuid Uuid::Random() {
  Uuid u;
  size_t got = 0;
  while (got < sizeof(u.b)) {
    ssize_t r = getrandom(u.b + got, sizeof(u.b) - got, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      std::abort();  // no entropy source: nothing sensible to do
    }
    got += size_t(r);
  }
  return u;
}

bool Uuid::IsZero() const {
  for (uint8_t x : b) {
    if (x) return false;
  }
  return true;
}

std::string Uuid::Hex() const { return ToHex(b, 16); }

bool Uuid::FromHex(std::string_view hex, Uuid* out) {
  if (hex.size() != 32) return false;
  auto val = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (int i = 0; i < 16; ++i) {
    int h = val(hex[2 * i]), l = val(hex[2 * i + 1]);
    if (h < 0 || l < 0) return false;
    out->b[i] = uint8_t(h * 16 + l);
  }
  return true;
}

}  // namespace cairn
