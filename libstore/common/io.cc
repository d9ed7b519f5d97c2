#include "libstore/common/io.h"

#include <cstdint>

namespace cairn {

Result<size_t> ReadFull(Source& src, void* buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ASSIGN_OR_RETURN(size_t r, src.Read(static_cast<uint8_t*>(buf) + got, n - got));
    if (r == 0) break;
    got += r;
  }
  return got;
}

}  // namespace cairn
