#include "libstore/format/encoding.h"

#include <sys/random.h>

#include <cstdlib>

#include "libstore/common/hash.h"

namespace cairn {

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
