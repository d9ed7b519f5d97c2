// Layer "codec": ErasureCodec encode and reconstruct throughput against raw ISA-L.
//
// This file includes ISA-L although libstore keeps it behind codec.cc (CONVENTIONS 6): the
// reference has to be ISA-L itself, called directly with tables prepared once, so that the ratio
// shows exactly what our wrapper costs (pointer marshalling, the decode-plan lookup and its lock).
#include <isa-l/erasure_code.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "bench/bench.h"
#include "libstore/common/hash.h"
#include "libstore/erasure/codec.h"

namespace cairn::bench {
namespace {

// A row of this layer measured in GB/s.
Row GbRow(std::string name) {
  Row r;
  r.layer = "codec";
  r.name = std::move(name);
  r.unit = "GB/s";
  return r;
}

constexpr uint64_t kDefaultSize = uint64_t{256} << 20;
constexpr size_t kBlock = size_t{1} << 20;  // data bytes per stripe
constexpr double kTargetRatio = 0.8;

std::string Shape(int k, int m) { return std::to_string(k) + "+" + std::to_string(m); }

// A 1 MiB stripe split into K shards rounded up to 64 bytes, laid out over the shared buffers:
// stripe s data shard j at data + s*K*shard_len + j*shard_len, parity likewise in `parity`.
struct Layout {
  size_t shard_len = 0;
  size_t stripes = 0;
  uint64_t data_bytes = 0;  // stripes * K * shard_len: what the GB/s figures count
};

Layout MakeLayout(int k, uint64_t size) {
  Layout l;
  l.shard_len = ((kBlock + k - 1) / k + 63) / 64 * 64;
  l.stripes = std::max<uint64_t>(1, size / (uint64_t(k) * l.shard_len));
  l.data_bytes = uint64_t(l.stripes) * k * l.shard_len;
  return l;
}

// Reference decode tables for "data shards 0..lost-1 missing", built the textbook way from the same
// Cauchy matrix: sources are the first K present shards (data lost..K-1, then parity 0..lost-1).
std::vector<uint8_t> ReferenceDecodeTables(int k, int m, int lost) {
  std::vector<uint8_t> matrix(size_t(k + m) * k), b(size_t(k) * k), inv(size_t(k) * k);
  gf_gen_cauchy1_matrix(matrix.data(), k + m, k);
  for (int r = 0; r < k; ++r) {
    const int src = r < k - lost ? lost + r : k + (r - (k - lost));
    std::memcpy(&b[size_t(r) * k], &matrix[size_t(src) * k], k);
  }
  std::vector<uint8_t> tbls(32 * size_t(k) * lost);
  if (gf_invert_matrix(b.data(), inv.data(), k) != 0) return {};
  ec_init_tables(k, lost, inv.data(), tbls.data());  // rows 0..lost-1 of B^-1 = missing data rows
  return tbls;
}

// Measures one shape over the shared buffers; appends an encode and a reconstruct row.
void RunShape(const Options& opt, int k, int m, const Buffer& data, const Buffer& parity,
              std::vector<Row>* rows) {
  const std::string shape = Shape(k, m);
  auto created = ErasureCodec::Create(k, m);
  if (!created.ok()) {
    Row r = GbRow("encode " + shape);
    r.note = "skipped: " + created.status().ToString();
    rows->push_back(std::move(r));
    return;
  }
  const ErasureCodec& codec = **created;
  if (m == 0) {
    Row r = GbRow("encode " + shape);
    r.note = "skipped: M = 0 has no parity to compute";
    rows->push_back(std::move(r));
    return;
  }
  // RunCodec sized the shared buffers from the same layouts.
  const Layout l = MakeLayout(k, opt.size ? opt.size : kDefaultSize);
  const int n = k + m;
  const int lost = std::min(m, k);

  // Every pointer array is built here, before any timing.
  std::vector<uint8_t*> shards(l.stripes * n);  // per stripe: K data then M parity
  std::vector<uint8_t*> ref_src(l.stripes * k), ref_dst(l.stripes * lost);
  for (size_t s = 0; s < l.stripes; ++s) {
    uint8_t** sh = &shards[s * n];
    for (int j = 0; j < k; ++j) sh[j] = data.data() + (s * k + j) * l.shard_len;
    for (int p = 0; p < m; ++p) sh[k + p] = parity.data() + (s * m + p) * l.shard_len;
    for (int r = 0; r < k; ++r) ref_src[s * k + r] = sh[lost + r];  // data lost.., then parity
    for (int d = 0; d < lost; ++d) ref_dst[s * lost + d] = sh[d];
  }
  std::vector<uint8_t> matrix(size_t(n) * k), enc_tbls(32 * size_t(k) * m);
  gf_gen_cauchy1_matrix(matrix.data(), n, k);
  ec_init_tables(k, m, matrix.data() + size_t(k) * k, enc_tbls.data());
  std::vector<uint8_t> dec_tbls = ReferenceDecodeTables(k, m, lost);
  bool present[kMaxShards];
  for (int i = 0; i < n; ++i) present[i] = i >= lost;

  const int len = static_cast<int>(l.shard_len);
  auto ours_encode = [&] {
    for (size_t s = 0; s < l.stripes; ++s)
      codec.Encode(l.shard_len, &shards[s * n], &shards[s * n + k]);
  };
  auto ref_encode = [&] {
    for (size_t s = 0; s < l.stripes; ++s) {
      ec_encode_data(len, k, m, enc_tbls.data(), &shards[s * n], &shards[s * n + k]);
    }
  };
  bool reconstruct_failed = false;
  auto ours_reconstruct = [&] {
    for (size_t s = 0; s < l.stripes; ++s) {
      if (!codec.Reconstruct(l.shard_len, &shards[s * n], present, nullptr).ok()) {
        reconstruct_failed = true;
      }
    }
  };
  auto ref_reconstruct = [&] {
    for (size_t s = 0; s < l.stripes; ++s) {
      ec_encode_data(len, k, lost, dec_tbls.data(), &ref_src[s * k], &ref_dst[s * lost]);
    }
  };

  // Warm-up: fills parity (so reconstruct has true parity to read) and builds the decode plan.
  ours_encode();
  ref_encode();
  ours_reconstruct();
  ref_reconstruct();
  // Reconstruct rewrites the lost data shards in place with what they already hold: a checksum of
  // the data before and after the timed runs proves both decoders produce the true bytes.
  const uint64_t before = Xxh3_64(data.data(), l.data_bytes);

  std::vector<double> ours_s, ref_s;
  TimeInterleaved(opt.runs, ours_encode, ref_encode, &ours_s, &ref_s);
  Row enc = GbRow("encode " + shape);
  enc.runs = GbPerSecond(l.data_bytes, ours_s);
  enc.median = Median(enc.runs);
  enc.reference_name = "isa-l ec_encode_data";
  enc.reference_median = Median(GbPerSecond(l.data_bytes, ref_s));
  enc.target_ratio = kTargetRatio;
  SetRatio(enc);
  enc.note = std::to_string(l.data_bytes >> 20) + " MiB data, " + std::to_string(l.stripes) +
             " stripes of " + std::to_string(k) + "x" + std::to_string(l.shard_len) + " B";
  rows->push_back(std::move(enc));

  ours_s.clear(), ref_s.clear();
  TimeInterleaved(opt.runs, ours_reconstruct, ref_reconstruct, &ours_s, &ref_s);
  const uint64_t after = Xxh3_64(data.data(), l.data_bytes);
  Row rec = GbRow("reconstruct " + shape + " (" + std::to_string(lost) + " data lost)");
  rec.runs = GbPerSecond(l.data_bytes, ours_s);
  rec.median = Median(rec.runs);
  rec.reference_name = "isa-l decode, tables precomputed";
  rec.reference_median = Median(GbPerSecond(l.data_bytes, ref_s));
  rec.target_ratio = kTargetRatio;
  SetRatio(rec);
  rec.note = "GB/s of stripe data";
  if (reconstruct_failed) rec.note = "ERROR: Reconstruct failed";
  if (dec_tbls.empty()) rec.note = "ERROR: reference decode matrix singular";
  if (before != after) rec.note = "ERROR: rebuilt data differs from the original";
  rows->push_back(std::move(rec));
}

}  // namespace

std::vector<Row> RunCodec(const Options& opt) {
  std::vector<std::pair<int, int>> shapes = {{4, 2}, {8, 4}};
  if (std::find(shapes.begin(), shapes.end(), std::pair{opt.k, opt.m}) == shapes.end()) {
    shapes.emplace_back(opt.k, opt.m);
  }
  const uint64_t size = opt.size ? opt.size : kDefaultSize;
  // One data and one parity buffer, sized for the largest shape and touched once, serve all shapes.
  uint64_t data_size = 0, parity_size = 0;
  for (auto [k, m] : shapes) {
    if (k < 1 || m < 0 || k + m > kMaxShards) continue;
    const Layout l = MakeLayout(k, size);
    data_size = std::max(data_size, l.data_bytes);
    parity_size = std::max(parity_size, uint64_t(l.stripes) * m * l.shard_len);
  }
  Buffer data(data_size, 1), parity(std::max<uint64_t>(parity_size, 64), 2);
  std::vector<Row> rows;
  for (auto [k, m] : shapes) RunShape(opt, k, m, data, parity, &rows);
  return rows;
}

}  // namespace cairn::bench
