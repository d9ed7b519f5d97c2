#include "libstore/object/list_token.h"

#include "libstore/common/hash.h"
#include "libstore/format/key_path.h"

namespace cairn {

std::string EncodeListToken(const ListToken& t) {
  std::string raw = (t.is_prefix ? "p" : "o") + t.marker;
  return "c1" + ToHex(reinterpret_cast<const uint8_t*>(raw.data()), raw.size());
}

bool DecodeListToken(std::string_view tok, ListToken* out) {
  // "c1", then hex of the kind byte and a marker of 1..kMaxKeyLen bytes.
  if (tok.size() < 2 + 2 * 2 || tok.size() > 2 + 2 * (1 + kMaxKeyLen) ||
      tok.compare(0, 2, "c1") != 0 || tok.size() % 2 != 0) {
    return false;
  }
  std::string raw;
  auto val = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (size_t i = 2; i < tok.size(); i += 2) {
    int h = val(tok[i]), l = val(tok[i + 1]);
    if (h < 0 || l < 0) return false;
    raw.push_back(char(h * 16 + l));
  }
  if (raw[0] != 'p' && raw[0] != 'o') return false;
  out->is_prefix = raw[0] == 'p';
  out->marker = raw.substr(1);
  return true;
}

}  // namespace cairn
