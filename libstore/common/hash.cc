#include "libstore/common/hash.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <xxh_x86dispatch.h>
#include <xxhash.h>

#include <cstdio>
#include <cstdlib>
#include <new>

namespace cairn {

uint64_t Xxh3_64(const void* data, size_t len) { return XXH3_64bits_dispatch(data, len); }

uint64_t Xxh3_64(const void* data, size_t len, uint64_t seed) {
  return XXH3_64bits_withSeed_dispatch(data, len, seed);
}

Hash128 Xxh3_128(const void* data, size_t len) {
  XXH128_hash_t h = XXH3_128bits_dispatch(data, len);
  return Hash128{h.high64, h.low64};
}

std::string ToHex(const uint8_t* data, size_t len) {
  static const char kDigits[] = "0123456789abcdef";
  std::string s(len * 2, '0');
  for (size_t i = 0; i < len; ++i) {
    s[2 * i] = kDigits[data[i] >> 4];
    s[2 * i + 1] = kDigits[data[i] & 15];
  }
  return s;
}

std::string Hash128::Hex() const {
  uint8_t b[16];
  for (int i = 0; i < 8; ++i) {
    b[i] = uint8_t(hi >> (56 - 8 * i));
    b[8 + i] = uint8_t(lo >> (56 - 8 * i));
  }
  return ToHex(b, 16);
}

Xxh3_128Stream::Xxh3_128Stream() : state_(XXH3_createState()) {
  if (state_ == nullptr) throw std::bad_alloc();
  Reset();
}
Xxh3_128Stream::~Xxh3_128Stream() { XXH3_freeState(static_cast<XXH3_state_t*>(state_)); }
void Xxh3_128Stream::Reset() { XXH3_128bits_reset(static_cast<XXH3_state_t*>(state_)); }
void Xxh3_128Stream::Update(const void* data, size_t len) {
  XXH3_128bits_update_dispatch(static_cast<XXH3_state_t*>(state_), data, len);
}
Hash128 Xxh3_128Stream::Digest() const {
  XXH128_hash_t h = XXH3_128bits_digest(static_cast<XXH3_state_t*>(state_));
  return Hash128{h.high64, h.low64};
}

namespace {
// The digests fetched once from the default provider: EVP_md5() and its kin name a legacy
// digest that EVP_DigestInit_ex fetches again on every call (a lookup under locks), which showed
// in the profile of small GETs (a SigV4 SHA-256 per request).
const EVP_MD* FetchedMd(const char* name) {
  const EVP_MD* md = EVP_MD_fetch(nullptr, name, nullptr);
  if (md == nullptr) std::abort();
  return md;
}
const EVP_MD* Md5Md() {
  static const EVP_MD* md = FetchedMd("MD5");
  return md;
}
const EVP_MD* Sha1Md() {
  static const EVP_MD* md = FetchedMd("SHA1");
  return md;
}
const EVP_MD* Sha256Md() {
  static const EVP_MD* md = FetchedMd("SHA256");
  return md;
}
}  // namespace

Md5Stream::Md5Stream() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr) throw std::bad_alloc();
  Reset();
}
Md5Stream::~Md5Stream() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }
void Md5Stream::Reset() {
  if (EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), Md5Md(), nullptr) != 1) std::abort();
}
void Md5Stream::Update(const void* data, size_t len) {
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data, len);
}
void Md5Stream::Final(uint8_t out[16]) {
  unsigned int n = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), out, &n);
}
std::string Md5Stream::FinalHex() {
  uint8_t d[16];
  Final(d);
  return ToHex(d, 16);
}

namespace {
const EVP_MD* ShaMd(ShaStream::Kind k) {
  return k == ShaStream::Kind::kSha1 ? Sha1Md() : Sha256Md();
}
}  // namespace

ShaStream::ShaStream(Kind kind) : kind_(kind), ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr) throw std::bad_alloc();
  Reset();
}
ShaStream::~ShaStream() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }
void ShaStream::Reset() {
  if (EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), ShaMd(kind_), nullptr) != 1) std::abort();
}
void ShaStream::Update(const void* data, size_t len) {
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data, len);
}
size_t ShaStream::Final(uint8_t* out) {
  unsigned int n = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), out, &n);
  return n;
}

void Sha256(const void* data, size_t len, uint8_t out[32]) {
  // One context per thread, reused: no allocation per call.
  struct Ctx {
    EVP_MD_CTX* p = EVP_MD_CTX_new();
    ~Ctx() { EVP_MD_CTX_free(p); }
  };
  thread_local Ctx ctx;
  unsigned int n = 0;
  if (ctx.p == nullptr || EVP_DigestInit_ex(ctx.p, Sha256Md(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.p, data, len) != 1 || EVP_DigestFinal_ex(ctx.p, out, &n) != 1) {
    std::abort();
  }
}

std::string Sha256Hex(const void* data, size_t len) {
  uint8_t d[32];
  Sha256(data, len, d);
  return ToHex(d, 32);
}

namespace {
// One HMAC context per thread and digest, its digest set once: OpenSSL's one-shot HMAC() fetches
// the algorithm on every call, and under many small calls (a chunk signature per aws-chunked chunk)
// that fetch's locks were the top of the profile.
class HmacCtx {
 public:
  explicit HmacCtx(const char* digest_name, size_t len) : len_(len) {
    static EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (mac == nullptr) std::abort();
    ctx_ = EVP_MAC_CTX_new(mac);
    char digest[16];
    std::snprintf(digest, sizeof(digest), "%s", digest_name);
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", digest, 0),
                           OSSL_PARAM_construct_end()};
    if (ctx_ == nullptr || EVP_MAC_CTX_set_params(ctx_, params) != 1) std::abort();
  }
  ~HmacCtx() { EVP_MAC_CTX_free(ctx_); }
  HmacCtx(const HmacCtx&) = delete;
  HmacCtx& operator=(const HmacCtx&) = delete;
  // Writes len bytes (the digest's length) to out.
  void Mac(const void* key, size_t key_len, const void* data, size_t len, uint8_t* out) {
    size_t n = 0;
    if (EVP_MAC_init(ctx_, static_cast<const unsigned char*>(key), key_len, nullptr) != 1 ||
        EVP_MAC_update(ctx_, static_cast<const unsigned char*>(data), len) != 1 ||
        EVP_MAC_final(ctx_, out, &n, len_) != 1 || n != len_)
      std::abort();
  }

 private:
  size_t len_;
  EVP_MAC_CTX* ctx_ = nullptr;
};
}  // namespace

void HmacSha256(const void* key, size_t key_len, const void* data, size_t len, uint8_t out[32]) {
  thread_local HmacCtx ctx("SHA256", 32);
  ctx.Mac(key, key_len, data, len, out);
}

void HmacSha1(const void* key, size_t key_len, const void* data, size_t len, uint8_t out[20]) {
  thread_local HmacCtx ctx("SHA1", 20);
  ctx.Mac(key, key_len, data, len, out);
}

bool ConstantTimeEqual(const void* a, const void* b, size_t n) {
  return CRYPTO_memcmp(a, b, n) == 0;
}

}  // namespace cairn
