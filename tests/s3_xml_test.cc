#include <catch2/catch.hpp>
#include <random>
#include <string>

#include "libstore/s3/xml.h"

using namespace cairn;
using namespace cairn::s3;

namespace {

std::string DeleteDoc(const std::vector<std::string>& keys, bool quiet) {
  std::string out;
  XmlWriter w(&out);
  w.Declaration();
  w.Open("Delete", kS3Namespace);
  if (quiet) w.Element("Quiet", true);
  for (const auto& k : keys) {
    w.Open("Object");
    w.Element("Key", k);
    w.Close();
  }
  w.Finish();
  REQUIRE(w.status().ok());
  return out;
}

}  // namespace

TEST_CASE("XmlWriter escapes every value, control characters and NUL included", "[s3xml]") {
  std::string out;
  XmlWriter w(&out);
  w.Open("A");
  w.Element("K", std::string_view("a&b<c>d\"e'f\0g\r\n\t\x1f\x7fh", 19));
  w.Element("N", uint64_t{18446744073709551615ULL});
  w.Empty("E");
  w.Close();
  CHECK(w.status().ok());
  CHECK(out ==
        "<A><K>a&amp;b&lt;c&gt;d&quot;e&apos;f&#x0;g&#xD;&#xA;&#x9;&#x1F;&#x7F;h</K>"
        "<N>18446744073709551615</N><E/></A>");
  // UTF-8 passes through; bytes XML cannot carry are replaced and reported.
  out.clear();
  XmlWriter u(&out);
  u.Element("K", "caf\xC3\xA9 \xF0\x9F\x98\x80");
  CHECK(u.status().ok());
  CHECK(out == "<K>caf\xC3\xA9 \xF0\x9F\x98\x80</K>");
  for (std::string bad : {std::string("\xFF"), std::string("\xC3"), std::string("\xED\xA0\x80"),
                          std::string("\xEF\xBF\xBE"), std::string("\xC0\xAF")}) {
    out.clear();
    XmlWriter b(&out);
    b.Element("K", bad);
    CHECK(b.status().code() == Code::kInvalidArgument);
    CHECK(out.find("\xEF\xBF\xBD") != std::string::npos);
  }
  out.clear();
  XmlWriter c(&out);
  c.Close();
  CHECK(c.status().code() == Code::kInternal);
}

TEST_CASE("DeleteObjects parses what S3 clients send", "[s3xml]") {
  const std::string body =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
      "<Object><Key>a/b.txt</Key></Object>"
      "<Object><Key>x &amp; y</Key><VersionId>null</VersionId><ETag>\"e\"</ETag></Object>"
      "<Object><Key>  </Key></Object>"
      "<Object><Key><![CDATA[<raw>]]>&#x0;&#65;</Key></Object>"
      "<Quiet>true</Quiet></Delete>";
  auto r = ParseDeleteObjects(body);
  REQUIRE(r.ok());
  CHECK(r->quiet);
  REQUIRE(r->objects.size() == 4);
  CHECK(r->objects[0].key == "a/b.txt");
  CHECK(r->objects[1].key == "x & y");
  CHECK(r->objects[1].version_id == "null");
  CHECK(r->objects[2].key == "  ");
  CHECK(r->objects[3].key == std::string("<raw>\0A", 7));
  auto loud = ParseDeleteObjects("<Delete><Object><Key>k</Key></Object></Delete>");
  REQUIRE(loud.ok());
  CHECK(!loud->quiet);
}

TEST_CASE("what the writer writes parses back to the same keys", "[s3xml]") {
  std::mt19937 rng(2);
  std::vector<std::string> keys = {
      std::string("\0", 1), "\r\n", "\r", " lead", "&#x41;", "]]>", "<Key>", "\xE2\x82\xAC"};
  for (int i = 0; i < 200; ++i) {
    std::string k(1 + rng() % 30, '\0');
    for (auto& c : k) c = static_cast<char>(rng() % 0x80);  // ASCII incl. controls
    keys.push_back(k);
  }
  auto r = ParseDeleteObjects(DeleteDoc(keys, false));
  REQUIRE(r.ok());
  REQUIRE(r->objects.size() == keys.size());
  for (size_t i = 0; i < keys.size(); ++i) CHECK(r->objects[i].key == keys[i]);
}

TEST_CASE("DeleteObjects refuses malformed bodies with kMalformedXml", "[s3xml]") {
  const char* bad[] = {
      "",
      "not xml",
      "<Delete>",
      "<Delete></Delete>",
      "<Delete><Quiet>true</Quiet></Delete>",
      "<Remove><Object><Key>k</Key></Object></Remove>",
      "<Delete><Object></Object></Delete>",
      "<Delete><Object><Key></Key></Object></Delete>",
      "<Delete><Object><Key>a</Key><Key>b</Key></Object></Delete>",
      "<Delete><Object><Key>a<b/></Key></Object></Delete>",
      "<Delete><Object><Key>a &foo; b</Key></Object></Delete>",
      "<Delete><Object><Key>a & b</Key></Object></Delete>",
      "<Delete><Object><Key>&#xD800;</Key></Object></Delete>",
      "<Delete><Object><Key>&#x110000;</Key></Object></Delete>",
      "<Delete><Object><Key>&#;</Key></Object></Delete>",
      "<Delete><Object><Key>k</Key></Object><Quiet>yes</Quiet></Delete>",
      "<Delete><Object><Key>k</Key></Object></Delete><Delete/>",
      "<Delete>text<Object><Key>k</Key></Object></Delete>",
      "<Delete><Object><Key>k</Key></Object></Delete>trailing",
      "<Delete><Object><Key>k\xFF</Key></Object></Delete>",
      "<!DOCTYPE d [<!ENTITY e \"x\">]><Delete><Object><Key>&e;</Key></Object></Delete>",
  };
  for (const char* b : bad) {
    INFO(b);
    auto r = ParseDeleteObjects(b);
    CHECK(r.status().code() == Code::kMalformedXml);
  }
  // A NUL byte in the body is refused rather than ending the parse early.
  std::string nul = "<Delete><Object><Key>k</Key></Object></Delete>";
  nul.insert(nul.size() - 9, 1, '\0');
  CHECK(ParseDeleteObjects(nul).status().code() == Code::kMalformedXml);
  // 1,000 objects pass, 1,001 do not.
  std::vector<std::string> keys(1000, "k");
  CHECK(ParseDeleteObjects(DeleteDoc(keys, true)).ok());
  keys.push_back("k");
  auto r = ParseDeleteObjects(DeleteDoc(keys, true));
  CHECK(r.status().code() == Code::kMalformedXml);
  CHECK(r.status().message().find("1000") != std::string::npos);
  // Size and depth limits.
  XmlLimits small;
  small.max_bytes = 30;
  CHECK(
      ParseDeleteObjects("<Delete><Object><Key>k</Key></Object></Delete>", small).status().code() ==
      Code::kMalformedXml);
  std::string deep = "<Delete><Object><Key>k</Key></Object>";
  for (int i = 0; i < 10; ++i) deep += "<x>";
  for (int i = 0; i < 10; ++i) deep += "</x>";
  deep += "</Delete>";
  r = ParseDeleteObjects(deep);
  CHECK(r.status().code() == Code::kMalformedXml);
  CHECK(r.status().message().find("deeper") != std::string::npos);
}

TEST_CASE("CreateBucketConfiguration", "[s3xml]") {
  auto r = ParseCreateBucketConfiguration(
      "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
      "<LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>");
  REQUIRE(r.ok());
  CHECK(r->location_constraint == "eu-west-1");
  auto empty = ParseCreateBucketConfiguration(" \r\n");
  REQUIRE(empty.ok());
  CHECK(empty->location_constraint.empty());
  auto none = ParseCreateBucketConfiguration("<CreateBucketConfiguration/>");
  REQUIRE(none.ok());
  CHECK(none->location_constraint.empty());
  CHECK(ParseCreateBucketConfiguration("<Other/>").status().code() == Code::kMalformedXml);
  CHECK(ParseCreateBucketConfiguration("<CreateBucketConfiguration><LocationConstraint>a"
                                       "</LocationConstraint><LocationConstraint>b"
                                       "</LocationConstraint></CreateBucketConfiguration>")
            .status()
            .code() == Code::kMalformedXml);
}

TEST_CASE("CompleteMultipartUpload parts, numbers, order and checksums", "[s3xml]") {
  auto r = ParseCompleteMultipartUpload(
      "<CompleteMultipartUpload>"
      "<Part><PartNumber>1</PartNumber><ETag>\"abc\"</ETag>"
      "<ChecksumCRC32>DUoRhQ==</ChecksumCRC32></Part>"
      "<Part><ETag>&quot;def&quot;</ETag><PartNumber>3</PartNumber></Part>"
      "</CompleteMultipartUpload>");
  REQUIRE(r.ok());
  REQUIRE(r->parts.size() == 2);
  CHECK(r->parts[0].part_number == 1);
  CHECK(r->parts[0].etag == "\"abc\"");
  REQUIRE(r->parts[0].checksum);
  CHECK(r->parts[0].checksum->algorithm == ChecksumAlgorithm::kCrc32);
  CHECK(r->parts[0].checksum->Base64() == "DUoRhQ==");
  CHECK(r->parts[1].part_number == 3);
  CHECK(r->parts[1].etag == "\"def\"");
  CHECK(!r->parts[1].checksum);

  auto code = [](const std::string& parts) {
    return ParseCompleteMultipartUpload("<CompleteMultipartUpload>" + parts +
                                        "</CompleteMultipartUpload>")
        .status()
        .code();
  };
  const std::string p1 = "<Part><PartNumber>1</PartNumber><ETag>a</ETag></Part>";
  const std::string p2 = "<Part><PartNumber>2</PartNumber><ETag>b</ETag></Part>";
  CHECK(code(p2 + p1) == Code::kInvalidPartOrder);
  CHECK(code(p1 + p1) == Code::kInvalidPartOrder);
  CHECK(code("") == Code::kMalformedXml);
  CHECK(code("<Part><ETag>a</ETag></Part>") == Code::kMalformedXml);
  CHECK(code("<Part><PartNumber>1</PartNumber></Part>") == Code::kMalformedXml);
  for (const char* num : {"x", "-1", "+1", "1.0", " 1", "", "99999999999999999999"}) {
    INFO(num);
    CHECK(code(std::string("<Part><PartNumber>") + num + "</PartNumber><ETag>a</ETag></Part>") ==
          Code::kMalformedXml);
  }
  for (const char* num : {"0", "10001"}) {
    CHECK(code(std::string("<Part><PartNumber>") + num + "</PartNumber><ETag>a</ETag></Part>") ==
          Code::kInvalidArgument);
  }
  CHECK(code("<Part><PartNumber>1</PartNumber><ETag>a</ETag>"
             "<ChecksumCRC32>nope</ChecksumCRC32></Part>") == Code::kInvalidDigest);
  CHECK(code("<Part><PartNumber>1</PartNumber><ETag>a</ETag><ChecksumCRC32>DUoRhQ==</ChecksumCRC32>"
             "<ChecksumSHA1>Kq5sNclPz7QV2+lfQIuc6R7oRu0=</ChecksumSHA1></Part>") ==
        Code::kMalformedXml);
  CHECK(std::string(ChecksumElementName(ChecksumAlgorithm::kCrc64Nvme)) == "ChecksumCRC64NVME");
}

TEST_CASE("xml tree: client responses parse into elements with decoded text", "[s3xml]") {
  auto doc = ParseXmlTree(
      "<?xml version=\"1.0\"?>\n<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
      "<IsTruncated>false</IsTruncated><Contents><Key>a&amp;b&#x1;</Key><Size>3</Size></Contents>"
      "<Contents><Key><![CDATA[c<d]]></Key></Contents></ListBucketResult>",
      "ListBucketResult");
  REQUIRE(doc.ok());
  CHECK(doc->name == "ListBucketResult");
  CHECK(doc->ChildText("IsTruncated") == "false");
  CHECK(doc->ChildText("Missing").empty());
  REQUIRE(doc->children.size() == 3);
  CHECK(doc->children[1].ChildText("Key") == std::string("a&b\x01"));
  CHECK(doc->children[1].ChildText("Size") == "3");
  CHECK(doc->children[2].ChildText("Key") == "c<d");
  CHECK(doc->Child("Contents") == &doc->children[1]);
  // The wrong root, text beside elements, an unknown entity: refused.
  CHECK(ParseXmlTree("<Error/>", "ListBucketResult").status().code() == Code::kMalformedXml);
  CHECK(ParseXmlTree("<A>x<B/></A>", "A").status().code() == Code::kMalformedXml);
  CHECK(ParseXmlTree("<A><B>&foo;</B></A>", "A").status().code() == Code::kMalformedXml);
}
