// ISA-L implementation of ErasureCodec. This is the only file in libstore that includes ISA-L.
//
// Encode matrix: gf_gen_cauchy1_matrix gives (K+M) x K rows, the identity on top (data shards are
// stored as is) and a Cauchy block below, so every K x K submatrix is invertible and any K shards
// rebuild the rest.
#include "libstore/erasure/codec.h"

#include <isa-l/erasure_code.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace cairn {
namespace {

// ec_encode_data takes an int length; longer buffers are coded in pieces of this many bytes
// (a multiple of 64 so that every piece but the last keeps ISA-L on its vector path).
constexpr size_t kMaxPiece = size_t{1} << 30;

// Everything Reconstruct needs for one (present, want) pattern, computed once and then shared
// read-only between threads.
struct DecodePlan {
  int sources[kMaxShards];  // the K shards we read, ascending
  int targets[kMaxShards];  // the missing wanted shards we write, ascending
  int num_targets = 0;
  std::vector<uint8_t> gftbls;  // 32 * K * num_targets, from ec_init_tables
};

// Runs ec_encode_data over len bytes, splitting lengths that do not fit in an int.
void EncodePieces(size_t len, int k, int rows, uint8_t* gftbls, uint8_t* const* in,
                  uint8_t* const* out) {
  uint8_t* in_ptrs[kMaxShards];
  uint8_t* out_ptrs[kMaxShards];
  for (size_t off = 0; off < len; off += kMaxPiece) {
    const size_t n = std::min(kMaxPiece, len - off);
    for (int i = 0; i < k; ++i) in_ptrs[i] = in[i] + off;
    for (int i = 0; i < rows; ++i) out_ptrs[i] = out[i] + off;
    ec_encode_data(static_cast<int>(n), k, rows, gftbls, in_ptrs, out_ptrs);
  }
}

class IsalCodec final : public ErasureCodec {
 public:
  IsalCodec(int k, int m)
      : k_(k), m_(m), matrix_(size_t(k + m) * k), enc_tbls_(32 * size_t(k) * m) {
    gf_gen_cauchy1_matrix(matrix_.data(), k + m, k);
    if (m > 0) ec_init_tables(k, m, matrix_.data() + size_t(k) * k, enc_tbls_.data());
  }

  int k() const override { return k_; }
  int m() const override { return m_; }

  void Encode(size_t len, const uint8_t* const* data, uint8_t* const* parity) const override {
    if (m_ == 0 || len == 0) return;
    // ISA-L's prototype is not const-correct; it only reads the data pointers and the tables.
    EncodePieces(len, k_, m_, const_cast<uint8_t*>(enc_tbls_.data()),
                 const_cast<uint8_t* const*>(data), parity);
  }

  Status Reconstruct(size_t len, uint8_t* const* shards, const bool* present,
                     const bool* want) const override {
    const int n = k_ + m_;
    uint32_t present_mask = 0, missing_mask = 0;
    int num_present = 0;
    for (int i = 0; i < n; ++i) {
      if (present[i]) {
        present_mask |= uint32_t{1} << i;
        ++num_present;
      } else if (want == nullptr || want[i]) {
        missing_mask |= uint32_t{1} << i;
      }
    }
    // Nothing asked for is missing: succeed even if too few shards are present, since no byte
    // depends on the lost ones.
    if (missing_mask == 0) return Status::Ok();
    if (num_present < k_) {
      return DataLoss("erasure code " + std::to_string(k_) + "+" + std::to_string(m_) + ": only " +
                      std::to_string(num_present) + " of " + std::to_string(n) +
                      " shards present, need at least " + std::to_string(k_) + " to rebuild");
    }
    std::shared_ptr<const DecodePlan> plan = GetPlan(present_mask, missing_mask);
    if (plan == nullptr) {
      return Internal("erasure code " + std::to_string(k_) + "+" + std::to_string(m_) +
                      ": decode matrix is singular (broken invariant)");
    }
    if (len == 0) return Status::Ok();
    uint8_t* in[kMaxShards];
    uint8_t* out[kMaxShards];
    for (int i = 0; i < k_; ++i) in[i] = shards[plan->sources[i]];
    for (int i = 0; i < plan->num_targets; ++i) out[i] = shards[plan->targets[i]];
    EncodePieces(len, k_, plan->num_targets, const_cast<uint8_t*>(plan->gftbls.data()), in, out);
    return Status::Ok();
  }

 private:
  // Patterns beyond this many are decoded with a fresh plan each time instead of growing the cache
  // without bound (a caller cycling through all patterns of a wide code).
  static constexpr size_t kMaxCachedPlans = 4096;

  // Returns the cached plan for the pattern, building it on first use; null if the chosen
  // submatrix is singular, which a Cauchy matrix rules out.
  std::shared_ptr<const DecodePlan> GetPlan(uint32_t present_mask, uint32_t missing_mask) const {
    const uint64_t key = (uint64_t{present_mask} << 32) | missing_mask;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = plans_.find(key);
      if (it != plans_.end()) return it->second;
    }
    // Built outside the lock: two threads may race to build the same plan; both are equal and the
    // first one stored wins.
    std::shared_ptr<const DecodePlan> plan = BuildPlan(present_mask, missing_mask);
    if (plan == nullptr) return nullptr;
    std::lock_guard<std::mutex> lock(mu_);
    if (plans_.size() >= kMaxCachedPlans) return plan;
    return plans_.emplace(key, std::move(plan)).first->second;
  }

  std::shared_ptr<const DecodePlan> BuildPlan(uint32_t present_mask, uint32_t missing_mask) const {
    const int n = k_ + m_;
    auto plan = std::make_shared<DecodePlan>();
    for (int i = 0, found = 0; i < n && found < k_; ++i) {
      if (present_mask & (uint32_t{1} << i)) plan->sources[found++] = i;
    }
    for (int i = 0; i < n; ++i) {
      if (missing_mask & (uint32_t{1} << i)) plan->targets[plan->num_targets++] = i;
    }
    // B = rows of the encode matrix for the chosen shards; shard = B * data, so data = B^-1 *
    // shard.
    std::vector<uint8_t> b(size_t(k_) * k_), inv(size_t(k_) * k_);
    for (int r = 0; r < k_; ++r) {
      std::memcpy(&b[size_t(r) * k_], &matrix_[size_t(plan->sources[r]) * k_], k_);
    }
    if (gf_invert_matrix(b.data(), inv.data(), k_) != 0) return nullptr;
    // Decode rows: a missing data shard j is row j of B^-1; a missing parity shard p is
    // (encode row p) * B^-1.
    std::vector<uint8_t> rows(size_t(plan->num_targets) * k_);
    for (int t = 0; t < plan->num_targets; ++t) {
      const int target = plan->targets[t];
      uint8_t* row = &rows[size_t(t) * k_];
      if (target < k_) {
        std::memcpy(row, &inv[size_t(target) * k_], k_);
        continue;
      }
      const uint8_t* enc = &matrix_[size_t(target) * k_];
      for (int c = 0; c < k_; ++c) {
        uint8_t acc = 0;
        for (int j = 0; j < k_; ++j) acc ^= gf_mul(enc[j], inv[size_t(j) * k_ + c]);
        row[c] = acc;
      }
    }
    plan->gftbls.resize(32 * size_t(k_) * plan->num_targets);
    ec_init_tables(k_, plan->num_targets, rows.data(), plan->gftbls.data());
    return plan;
  }

  const int k_, m_;
  std::vector<uint8_t> matrix_;    // (K+M) x K, row-major
  std::vector<uint8_t> enc_tbls_;  // ec_init_tables of the M parity rows
  mutable std::mutex mu_;
  mutable std::unordered_map<uint64_t, std::shared_ptr<const DecodePlan>> plans_;  // guarded by mu_
};

}  // namespace

Result<std::unique_ptr<ErasureCodec>> ErasureCodec::Create(int k, int m) {
  if (k < 1 || m < 0 || k > kMaxShards || m > kMaxShards || k + m > kMaxShards) {
    return InvalidArgument(
        "erasure code K+M: " + std::to_string(k) + "+" + std::to_string(m) +
        " is invalid; need K >= 1, M >= 0 and K + M <= " + std::to_string(kMaxShards));
  }
  return std::unique_ptr<ErasureCodec>(std::make_unique<IsalCodec>(k, m));
}

}  // namespace cairn
