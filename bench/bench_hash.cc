// Layer "hash": our XXH3-64 and MD5 wrappers against the libraries called directly.
//
// This file includes xxHash and OpenSSL although libstore keeps them behind hash.cc
// (CONVENTIONS 6): the references must be the libraries themselves. XXH3_64bits() is xxHash's
// plain entry point, which Debian builds for SSE2 only; our Xxh3_64 uses the runtime dispatch and
// should beat it by several times. MD5 is compared with OpenSSL's one-shot EVP_Digest over the
// whole input, the fastest OpenSSL can do, to show what streaming through Md5Stream costs.
// The CRC rows (x-amz-checksum-*) compare with ISA-L's own crc32_gzip_refl (the gzip CRC32) on the
// same buffer: crc32c is ISA-L's crc32_iscsi behind our wrapper, crc64nvme is our folding code
// (ISA-L has no CRC64NVME), so the ratio says how close our CRC-64 comes to ISA-L's CRC-32.
#include <isa-l/crc.h>
#include <openssl/evp.h>
#include <xxhash.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>

#include "bench/bench.h"
#include "libstore/common/checksum.h"
#include "libstore/common/hash.h"

namespace cairn::bench {
namespace {

// A row of this layer measured in GB/s.
Row GbRow(std::string name) {
  Row r;
  r.layer = "hash";
  r.name = std::move(name);
  r.unit = "GB/s";
  return r;
}

constexpr uint64_t kDefaultSize = uint64_t{256} << 20;
constexpr size_t kChunk = size_t{1} << 20;

}  // namespace

std::vector<Row> RunHash(const Options& opt) {
  const uint64_t size = opt.size ? opt.size : kDefaultSize;
  Buffer input(size, 3);
  const uint8_t* p = input.data();
  std::vector<Row> rows;

  // XXH3-64 per 1 MiB chunk; the XOR of all chunk hashes keeps the calls from being elided and
  // lets us check both paths agree.
  uint64_t ours_acc = 0, ref_acc = 0;
  auto ours_xxh = [&] {
    uint64_t acc = 0;
    for (uint64_t off = 0; off < size; off += kChunk) {
      acc ^= Xxh3_64(p + off, std::min<uint64_t>(kChunk, size - off));
    }
    ours_acc = acc;
  };
  auto ref_xxh = [&] {
    uint64_t acc = 0;
    for (uint64_t off = 0; off < size; off += kChunk) {
      acc ^= XXH3_64bits(p + off, std::min<uint64_t>(kChunk, size - off));
    }
    ref_acc = acc;
  };
  ours_xxh();  // warm-up
  ref_xxh();
  std::vector<double> ours_s, ref_s;
  TimeInterleaved(opt.runs, ours_xxh, ref_xxh, &ours_s, &ref_s);
  Row xxh = GbRow("xxh3-64");
  xxh.runs = GbPerSecond(size, ours_s);
  xxh.median = Median(xxh.runs);
  xxh.reference_name = "XXH3_64bits (no dispatch)";
  xxh.reference_median = Median(GbPerSecond(size, ref_s));
  SetRatio(xxh);
  xxh.note = std::to_string(size >> 20) + " MiB in 1 MiB chunks";
  if (ours_acc != ref_acc) xxh.note = "ERROR: hashes differ from the reference";
  rows.push_back(std::move(xxh));

  // MD5: our stream fed 1 MiB at a time vs one EVP_Digest call over everything.
  Md5Stream stream;
  uint8_t ours_md5[16] = {}, ref_md5[16] = {};
  bool ref_failed = false;
  auto ours_md5_fn = [&] {
    stream.Reset();
    for (uint64_t off = 0; off < size; off += kChunk) {
      stream.Update(p + off, std::min<uint64_t>(kChunk, size - off));
    }
    stream.Final(ours_md5);
  };
  auto ref_md5_fn = [&] {
    unsigned int n = 0;
    if (EVP_Digest(p, size, ref_md5, &n, EVP_md5(), nullptr) != 1) ref_failed = true;
  };
  ours_md5_fn();  // warm-up
  ref_md5_fn();
  ours_s.clear(), ref_s.clear();
  TimeInterleaved(opt.runs, ours_md5_fn, ref_md5_fn, &ours_s, &ref_s);
  Row md5 = GbRow("md5");
  md5.runs = GbPerSecond(size, ours_s);
  md5.median = Median(md5.runs);
  md5.reference_name = "EVP_Digest one-shot";
  md5.reference_median = Median(GbPerSecond(size, ref_s));
  SetRatio(md5);
  md5.note = std::to_string(size >> 20) + " MiB streamed in 1 MiB chunks";
  if (ref_failed) md5.note = "ERROR: EVP_Digest failed";
  if (std::memcmp(ours_md5, ref_md5, 16) != 0) md5.note = "ERROR: digests differ";
  rows.push_back(std::move(md5));

  // CRCs per 1 MiB chunk, chained as a stream would; each against ISA-L's CRC32 on the same bytes.
  uint32_t ref_crc = 0;
  auto ref_crc32 = [&] {
    uint32_t c = 0;
    for (uint64_t off = 0; off < size; off += kChunk) {
      c = crc32_gzip_refl(c, p + off, std::min<uint64_t>(kChunk, size - off));
    }
    ref_crc = c;
  };
  auto crc_row = [&](std::string name, auto ours, bool check_equal_to_ref) {
    uint64_t ours_crc = 0;
    auto ours_fn = [&] {
      uint64_t c = 0;
      for (uint64_t off = 0; off < size; off += kChunk) {
        c = ours(c, p + off, std::min<uint64_t>(kChunk, size - off));
      }
      ours_crc = c;
    };
    ours_fn();  // warm-up
    ref_crc32();
    std::vector<double> o, r;
    TimeInterleaved(opt.runs, ours_fn, ref_crc32, &o, &r);
    Row row = GbRow(std::move(name));
    row.runs = GbPerSecond(size, o);
    row.median = Median(row.runs);
    row.reference_name = "isa-l crc32_gzip_refl";
    row.reference_median = Median(GbPerSecond(size, r));
    SetRatio(row);
    row.note = std::to_string(size >> 20) + " MiB in 1 MiB chunks";
    if (check_equal_to_ref && ours_crc != ref_crc) row.note = "ERROR: CRC differs from ISA-L's";
    rows.push_back(std::move(row));
  };
  crc_row(
      "crc32",
      [](uint64_t c, const uint8_t* d, size_t n) -> uint64_t {
        return Crc32(static_cast<uint32_t>(c), d, n);
      },
      true);
  crc_row(
      "crc32c",
      [](uint64_t c, const uint8_t* d, size_t n) -> uint64_t {
        return Crc32c(static_cast<uint32_t>(c), d, n);
      },
      false);
  crc_row(
      std::string("crc64nvme (") + crc64nvme_internal::Dispatched() + ")",
      [](uint64_t c, const uint8_t* d, size_t n) { return Crc64Nvme(c, d, n); }, false);
  if (crc64nvme_internal::HaveVpclmul()) {
    crc_row(
        "crc64nvme (pclmulqdq)",
        [](uint64_t c, const uint8_t* d, size_t n) { return crc64nvme_internal::Clmul(c, d, n); },
        false);
  }
  crc_row(
      "crc64nvme (table)",
      [](uint64_t c, const uint8_t* d, size_t n) { return crc64nvme_internal::Table(c, d, n); },
      false);
  return rows;
}

}  // namespace cairn::bench
