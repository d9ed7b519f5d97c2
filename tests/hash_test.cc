#include <catch2/catch.hpp>

#include "libstore/common/hash.h"

using namespace cairn;

TEST_CASE("MD5 and XXH3 match known vectors; streams match one-shot", "[hash]") {
  Md5Stream m;
  CHECK(m.FinalHex() == "d41d8cd98f00b204e9800998ecf8427e");
  m.Reset();
  m.Update("abc", 3);
  CHECK(m.FinalHex() == "900150983cd24fb0d6963f7d28e17f72");
  // XXH3-64 of the empty input (xxHash's published value).
  CHECK(Xxh3_64("", 0) == 0x2D06800538D394C2ULL);
  std::string data(100000, 'q');
  for (size_t i = 0; i < data.size(); ++i) data[i] = char(i * 131);
  Xxh3_128Stream s;
  for (size_t off = 0; off < data.size(); off += 4097) s.Update(data.data() + off, std::min<size_t>(4097, data.size() - off));
  CHECK(s.Digest() == Xxh3_128(data.data(), data.size()));
  CHECK(Xxh3_128(data.data(), data.size()).Hex().size() == 32);
}
