// Little-endian binary encoding used by every on-disk format (docs/format.md).
// Writer appends to a std::string; Reader consumes a string_view and latches the first error.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace cairn {

class Writer {
 public:
  explicit Writer(std::string* out) : out_(out) {}
  void U8(uint8_t v) { out_->push_back(char(v)); }
  void U16(uint16_t v) { Raw(&v, 2); }
  void U32(uint32_t v) { Raw(&v, 4); }
  void U64(uint64_t v) { Raw(&v, 8); }
  void I64(int64_t v) { Raw(&v, 8); }
  void Bytes(const void* p, size_t n) { out_->append(static_cast<const char*>(p), n); }
  // u32 length, then the bytes.
  void Str(std::string_view s) {
    U32(uint32_t(s.size()));
    out_->append(s.data(), s.size());
  }

 private:
  void Raw(const void* p, size_t n) { out_->append(static_cast<const char*>(p), n); }  // x86-64: LE
  std::string* out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool ok() const { return ok_; }
  size_t pos() const { return pos_; }
  size_t remaining() const { return ok_ ? in_.size() - pos_ : 0; }
  uint8_t U8() { uint8_t v = 0; Raw(&v, 1); return v; }
  uint16_t U16() { uint16_t v = 0; Raw(&v, 2); return v; }
  uint32_t U32() { uint32_t v = 0; Raw(&v, 4); return v; }
  uint64_t U64() { uint64_t v = 0; Raw(&v, 8); return v; }
  int64_t I64() { int64_t v = 0; Raw(&v, 8); return v; }
  void Bytes(void* p, size_t n) { Raw(p, n); }
  // A u32-length string of at most max bytes.
  std::string Str(size_t max) {
    uint32_t n = U32();
    if (!ok_ || n > max || n > in_.size() - pos_) {
      ok_ = false;
      return {};
    }
    std::string s(in_.substr(pos_, n));
    pos_ += n;
    return s;
  }
  std::string_view View(size_t n) {
    if (!ok_ || n > in_.size() - pos_) {
      ok_ = false;
      return {};
    }
    std::string_view v = in_.substr(pos_, n);
    pos_ += n;
    return v;
  }

 private:
  void Raw(void* p, size_t n) {
    if (n == 0) return;  // p may be null (an empty vector's data()): memcpy would be undefined
    if (!ok_ || n > in_.size() - pos_) {
      ok_ = false;
      std::memset(p, 0, n);
      return;
    }
    std::memcpy(p, in_.data() + pos_, n);
    pos_ += n;
  }
  std::string_view in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

// The small record files (MRF entries, the heal journal) are sealed: 8-byte magic, u32 version,
// body, then the XXH3-64 of everything before it. Seal appends the checksum; OpenSealed checks
// magic, checksum and version and returns a Reader positioned at the body (false if any is wrong).
void Seal(std::string* out);
bool OpenSealed(std::string_view in, const char (&magic)[8], uint32_t version, Reader* body);

// 16 random bytes from the OS (getrandom), as used for set, volume, version and data ids.
struct Uuid {
  uint8_t b[16] = {};
  static Uuid Random();
  bool IsZero() const;
  std::string Hex() const;
  static bool FromHex(std::string_view hex, Uuid* out);
  bool operator==(const Uuid& o) const { return std::memcmp(b, o.b, 16) == 0; }
  bool operator!=(const Uuid& o) const { return !(*this == o); }
  bool operator<(const Uuid& o) const { return std::memcmp(b, o.b, 16) < 0; }
};

}  // namespace cairn
