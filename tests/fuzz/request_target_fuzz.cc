// ParseTarget and ResolveAddress on any bytes. The input is "HOST\nTARGET" (no newline: the
// whole input is the target, host "localhost"). Properties: errors are only the documented codes;
// an accepted target's raw path is the input up to '?'; its decoded path re-encodes to a target
// that parses to the same path; an address names a bucket without '/' and a key of at most
// 1024 bytes, and the virtual-hosted form takes the bucket from the host.
// Coverage: libstore/server/request_target.cc cairn::server::ParseTarget(
// Coverage: libstore/server/request_target.cc cairn::server::ResolveAddress(
// Coverage: libstore/server/request_target.cc cairn::server::PercentDecode(
#include "libstore/server/request_target.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

std::string Encode(const std::string& s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c > 0x20 && c < 0x7F && c != '%' && c != '?' && c != '#') {
      out.push_back(ch);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cairn;
  using namespace cairn::server;
  const std::string in(reinterpret_cast<const char*>(data), size);
  const size_t nl = in.find('\n');
  const std::string host = nl == std::string::npos ? "localhost" : in.substr(0, nl);
  const std::string target = nl == std::string::npos ? in : in.substr(nl + 1);

  auto t = ParseTarget(target);
  if (!t.ok()) {
    FUZZ_CHECK(t.status().code() == Code::kInvalidArgument);
    return 0;
  }
  FUZZ_CHECK(target.compare(0, t->raw_path.size(), t->raw_path) == 0);
  FUZZ_CHECK(t->path.find('\0') == std::string::npos);
  FUZZ_CHECK(!t->path.empty() && t->path[0] == '/');
  auto again = ParseTarget(Encode(t->path));
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->path == t->path);
  FUZZ_CHECK(again->query.empty());

  for (const std::string domain : {"", "example.com"}) {
    auto a = ResolveAddress(t->raw_path, host, domain);
    if (!a.ok()) {
      const Code c = a.status().code();
      FUZZ_CHECK(c == Code::kInvalidArgument || c == Code::kInvalidBucketName ||
                 c == Code::kKeyTooLong);
      continue;
    }
    FUZZ_CHECK(a->bucket.find('/') == std::string::npos);
    FUZZ_CHECK(a->key.size() <= kMaxKeyBytes);
    FUZZ_CHECK(!a->bucket.empty() || a->key.empty());
    // The same path over the domain's own host is path-style: the same as with no domain.
    if (!domain.empty()) {
      auto path_style = ResolveAddress(t->raw_path, "localhost", "");
      auto own = ResolveAddress(t->raw_path, domain, domain);
      FUZZ_CHECK(path_style.ok() == own.ok());
      if (own.ok()) FUZZ_CHECK(own->bucket == path_style->bucket && own->key == path_style->key);
    }
  }
  // Virtual-hosted: the host's first label, lower-cased, is the bucket.
  auto v = ResolveAddress(t->raw_path, "Bkt.example.com", "example.com");
  if (v.ok()) {
    FUZZ_CHECK(v->bucket == "bkt");
    FUZZ_CHECK(v->key == t->path.substr(1));
  }
  return 0;
}
