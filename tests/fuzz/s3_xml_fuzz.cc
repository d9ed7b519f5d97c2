// The S3 request-body parsers (DeleteObjects, CreateBucketConfiguration, CompleteMultipartUpload)
// on arbitrary bytes: they never crash, fail only with the codes their contracts name, and what
// they accept is within the limits. Then the writer's half: the input split at 0xFF bytes (never
// UTF-8) into keys, written with XmlWriter as a Delete document and a CompleteMultipartUpload
// document (the keys as ETags), parses back to the same values whenever the writer said it could
// carry them, and still parses (U+FFFD in place) when it could not.
// Coverage: libstore/s3/xml.cc cairn::s3::ParseDeleteObjects(
// Coverage: libstore/s3/xml.cc cairn::s3::ParseCompleteMultipartUpload(
// Coverage: libstore/s3/xml.cc cairn::s3::XmlWriter::AppendEscaped(
#include <string>
#include <vector>

#include "libstore/s3/xml.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using namespace cairn;
using namespace cairn::s3;

void ParseAnything(std::string_view in) {
  auto d = ParseDeleteObjects(in);
  if (d.ok()) {
    FUZZ_CHECK(!d->objects.empty() && d->objects.size() <= kMaxDeleteObjects);
    for (const auto& o : d->objects) FUZZ_CHECK(!o.key.empty());
  } else {
    FUZZ_CHECK(d.status().code() == Code::kMalformedXml);
  }
  auto c = ParseCreateBucketConfiguration(in);
  if (!c.ok()) FUZZ_CHECK(c.status().code() == Code::kMalformedXml);
  auto m = ParseCompleteMultipartUpload(in);
  if (m.ok()) {
    FUZZ_CHECK(!m->parts.empty() && m->parts.size() <= kMaxParts);
    uint32_t prev = 0;
    for (const auto& p : m->parts) {
      FUZZ_CHECK(p.part_number > prev && p.part_number <= kMaxParts);
      prev = p.part_number;
      if (p.checksum) FUZZ_CHECK(p.checksum->len == DigestLength(p.checksum->algorithm));
    }
  } else {
    const Code k = m.status().code();
    FUZZ_CHECK(k == Code::kMalformedXml || k == Code::kInvalidArgument ||
               k == Code::kInvalidPartOrder || k == Code::kInvalidDigest);
  }
}

void RoundTrip(std::string_view in) {
  std::vector<std::string> keys;
  size_t start = 0;
  for (size_t i = 0; i <= in.size() && keys.size() < 50; ++i) {
    if (i == in.size() || static_cast<uint8_t>(in[i]) == 0xFF) {
      if (i > start) keys.emplace_back(in.substr(start, i - start));
      start = i + 1;
    }
  }
  if (keys.empty()) return;

  std::string doc;
  XmlWriter w(&doc);
  w.Declaration();
  w.Open("Delete", kS3Namespace);
  w.Element("Quiet", true);
  for (const auto& k : keys) {
    w.Open("Object");
    w.Element("Key", k);
    w.Close();
  }
  w.Finish();
  FUZZ_CHECK(w.depth() == 0);
  auto d = ParseDeleteObjects(doc);
  FUZZ_CHECK(d.ok());  // well formed even when a key was not UTF-8
  FUZZ_CHECK(d->quiet && d->objects.size() == keys.size());
  if (w.status().ok()) {
    for (size_t i = 0; i < keys.size(); ++i) FUZZ_CHECK(d->objects[i].key == keys[i]);
  } else {
    FUZZ_CHECK(w.status().code() == Code::kInvalidArgument);
  }

  doc.clear();
  XmlWriter m(&doc);
  m.Open("CompleteMultipartUpload");
  for (size_t i = 0; i < keys.size(); ++i) {
    m.Open("Part");
    m.Element("PartNumber", uint64_t{i + 1});
    m.Element("ETag", keys[i]);
    m.Close();
  }
  m.Finish();
  auto c = ParseCompleteMultipartUpload(doc);
  FUZZ_CHECK(c.ok());
  FUZZ_CHECK(c->parts.size() == keys.size());
  if (m.status().ok()) {
    for (size_t i = 0; i < keys.size(); ++i) {
      FUZZ_CHECK(c->parts[i].part_number == i + 1);
      FUZZ_CHECK(c->parts[i].etag == keys[i]);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  ParseAnything(in);
  RoundTrip(in);
  return 0;
}
