// The continuation token of a listing page (ListOptions::continuation_token): where the next page
// starts. Clients hand it back verbatim, so it is untrusted input. Layout: "c1", then lowercase hex
// of one byte 'o' (the last item was an object: start after that key) or 'p' (a common prefix:
// also skip every key under it), then the item's text.
#pragma once

#include <string>
#include <string_view>

namespace cairn {

struct ListToken {
  std::string marker;      // the last key or common prefix returned: 1..kMaxKeyLen bytes
  bool is_prefix = false;  // marker is a common prefix
};

std::string EncodeListToken(const ListToken& t);
// False unless `tok` is exactly what EncodeListToken makes for some token.
bool DecodeListToken(std::string_view tok, ListToken* out);

}  // namespace cairn
