// CRC64NVME (the NVMe CRC-64, what S3 calls CRC64NVME): reflected polynomial 0x9A6C9329AC4BC9B5
// (0xAD93D23594C93659 bit-reversed), init and xorout all ones.
//
// Three implementations behind one dispatch chosen once per process: AVX-512 VPCLMULQDQ folding
// (four 512-bit accumulators, 256 bytes a round), PCLMULQDQ folding (eight 128-bit accumulators,
// 128 bytes a round) and slicing-by-8 tables. Each folding stage only shortens the message: it
// folds everything but a short tail into a few registers that, stored as bytes, are a message
// with the same CRC, and hands that to the next stage; the table finishes. So there is no Barrett
// reduction to get wrong, and the tests compare every stage with the table.
//
// Folding, in the reflected representation (bit k of a 128-bit register is the coefficient of
// x^(127-k), so the register's low qword H holds the message's first 64 bits): a register A that
// sits D bits before the next block contributes A*x^D, and
//   A*x^D = H*x^(D+64) + L*x^D  ==  H*(x^(D+63) mod P)*x + L*(x^(D-1) mod P)*x  (mod P).
// A carry-less multiply of two reflected 64-bit values yields the reflected 127-bit product, which
// read as a 128-bit register is the product times x: hence the constants x^(D+63) and x^(D-1).
#include <immintrin.h>

#include <cstring>

#include "libstore/common/checksum.h"

namespace cairn {
namespace {

constexpr uint64_t kPoly = 0x9A6C9329AC4BC9B5ULL;

// x^n mod P, reflected (bit i is the coefficient of x^(63-i)).
constexpr uint64_t XPowModP(unsigned n) {
  uint64_t v = uint64_t{1} << 63;
  for (unsigned i = 0; i < n; ++i) v = (v >> 1) ^ ((v & 1) ? kPoly : 0);
  return v;
}

struct Tables {
  uint64_t t[8][256];
};
constexpr Tables MakeTables() {
  Tables s{};
  for (unsigned b = 0; b < 256; ++b) {
    uint64_t c = b;
    for (int i = 0; i < 8; ++i) c = (c >> 1) ^ ((c & 1) ? kPoly : 0);
    s.t[0][b] = c;
  }
  for (int k = 1; k < 8; ++k) {
    for (unsigned b = 0; b < 256; ++b)
      s.t[k][b] = (s.t[k - 1][b] >> 8) ^ s.t[0][s.t[k - 1][b] & 0xFF];
  }
  return s;
}
constexpr Tables kTables = MakeTables();

inline uint64_t LoadLe64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;  // x86 is little-endian
}

// The raw register (no init, no xorout) after `n` more bytes.
uint64_t TableRaw(uint64_t s, const uint8_t* p, size_t n) {
  const auto& t = kTables.t;
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t v = LoadLe64(p) ^ s;
    s = t[7][v & 0xFF] ^ t[6][(v >> 8) & 0xFF] ^ t[5][(v >> 16) & 0xFF] ^ t[4][(v >> 24) & 0xFF] ^
        t[3][(v >> 32) & 0xFF] ^ t[2][(v >> 40) & 0xFF] ^ t[1][(v >> 48) & 0xFF] ^ t[0][v >> 56];
  }
  for (; n > 0; ++p, --n) s = (s >> 8) ^ t[0][(s ^ *p) & 0xFF];
  return s;
}

#define CAIRN_TARGET_CLMUL __attribute__((target("pclmul,sse4.1")))
#define CAIRN_TARGET_VPCLMUL __attribute__((target("avx512f,avx512vl,vpclmulqdq,pclmul,sse4.1")))

CAIRN_TARGET_CLMUL inline __m128i Fold128(__m128i x, __m128i k) {
  return _mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), _mm_clmulepi64_si128(x, k, 0x11));
}
// The constants folding a 128-bit register D bits forward (H's, L's), computed at compile time.
struct FoldPair {
  uint64_t h, l;
};
constexpr FoldPair FoldBy(unsigned d) { return {XPowModP(d + 63), XPowModP(d - 1)}; }
constexpr FoldPair kFold128 = FoldBy(128), kFold1024 = FoldBy(1024), kFold2048 = FoldBy(2048);
// Low qword multiplies H, high qword multiplies L.
CAIRN_TARGET_CLMUL inline __m128i FoldConstants(FoldPair f) {
  return _mm_set_epi64x(static_cast<long long>(f.l), static_cast<long long>(f.h));
}

CAIRN_TARGET_CLMUL uint64_t ClmulRaw(uint64_t s, const uint8_t* p, size_t n) {
  if (n < 128) return TableRaw(s, p, n);
  const __m128i k128 = FoldConstants(kFold128);
  const __m128i k1024 = FoldConstants(kFold1024);
  __m128i x[8];
  for (int i = 0; i < 8; ++i) x[i] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * i));
  x[0] = _mm_xor_si128(x[0], _mm_cvtsi64_si128(static_cast<long long>(s)));
  p += 128, n -= 128;
  for (; n >= 128; p += 128, n -= 128) {
    for (int i = 0; i < 8; ++i) {
      x[i] = _mm_xor_si128(Fold128(x[i], k1024),
                           _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * i)));
    }
  }
  __m128i acc = x[0];
  for (int i = 1; i < 8; ++i) acc = _mm_xor_si128(Fold128(acc, k128), x[i]);
  for (; n >= 16; p += 16, n -= 16) {
    acc = _mm_xor_si128(Fold128(acc, k128), _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  // acc followed by the tail is a message with the same CRC from a zero register.
  alignas(16) uint8_t rest[32];
  _mm_store_si128(reinterpret_cast<__m128i*>(rest), acc);
  std::memcpy(rest + 16, p, n);
  return TableRaw(0, rest, 16 + n);
}

CAIRN_TARGET_VPCLMUL inline __m512i Fold512(__m512i x, __m512i k, __m512i next) {
  // Three-way XOR in one instruction (truth table 0x96).
  return _mm512_ternarylogic_epi64(_mm512_clmulepi64_epi128(x, k, 0x00),
                                   _mm512_clmulepi64_epi128(x, k, 0x11), next, 0x96);
}

CAIRN_TARGET_VPCLMUL uint64_t VpclmulRaw(uint64_t s, const uint8_t* p, size_t n) {
  if (n < 512) return ClmulRaw(s, p, n);
  // The same pair in every 128-bit lane (set_epi64 rather than broadcast_i32x4, whose
  // _mm512_undefined_epi32 GCC 12 reports as maybe-uninitialized).
  const auto kh = static_cast<long long>(kFold2048.h), kl = static_cast<long long>(kFold2048.l);
  const __m512i k2048 = _mm512_set_epi64(kl, kh, kl, kh, kl, kh, kl, kh);
  __m512i x[4];
  for (int i = 0; i < 4; ++i) x[i] = _mm512_loadu_si512(p + 64 * i);
  x[0] = _mm512_xor_si512(x[0], _mm512_set_epi64(0, 0, 0, 0, 0, 0, 0, static_cast<long long>(s)));
  p += 256, n -= 256;
  for (; n >= 256; p += 256, n -= 256) {
    for (int i = 0; i < 4; ++i) x[i] = Fold512(x[i], k2048, _mm512_loadu_si512(p + 64 * i));
  }
  // The four registers (16 lanes in message order) and the tail: a shorter message, same CRC.
  alignas(64) uint8_t rest[512];
  for (int i = 0; i < 4; ++i) _mm512_store_si512(rest + 64 * i, x[i]);
  std::memcpy(rest + 256, p, n);
  return ClmulRaw(0, rest, 256 + n);
}

bool CpuHasClmul() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
}
bool CpuHasVpclmul() {
  __builtin_cpu_init();
  return CpuHasClmul() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("vpclmulqdq");
}

using RawFn = uint64_t (*)(uint64_t, const uint8_t*, size_t);
struct Dispatch {
  RawFn fn;
  const char* name;
};
const Dispatch& Chosen() {
  static const Dispatch d = CpuHasVpclmul() ? Dispatch{VpclmulRaw, "vpclmulqdq"}
                            : CpuHasClmul() ? Dispatch{ClmulRaw, "pclmulqdq"}
                                            : Dispatch{TableRaw, "table"};
  return d;
}

}  // namespace

uint64_t Crc64Nvme(uint64_t crc, const void* data, size_t len) {
  return ~Chosen().fn(~crc, static_cast<const uint8_t*>(data), len);
}

namespace crc64nvme_internal {
uint64_t Table(uint64_t crc, const void* data, size_t len) {
  return ~TableRaw(~crc, static_cast<const uint8_t*>(data), len);
}
bool HaveClmul() { return CpuHasClmul(); }
uint64_t Clmul(uint64_t crc, const void* data, size_t len) {
  return ~ClmulRaw(~crc, static_cast<const uint8_t*>(data), len);
}
bool HaveVpclmul() { return CpuHasVpclmul(); }
uint64_t Vpclmul(uint64_t crc, const void* data, size_t len) {
  return ~VpclmulRaw(~crc, static_cast<const uint8_t*>(data), len);
}
const char* Dispatched() { return Chosen().name; }
}  // namespace crc64nvme_internal

}  // namespace cairn
