// S3's XML: a writer for response bodies and parsers for the request bodies cairn takes
// (DeleteObjects, CreateBucket's configuration, CompleteMultipartUpload).
//
// xml.cc is the only include of pugixml. Character and entity references are decoded here rather
// than by pugixml, so a value is a std::string of explicit length: a key holding "&#x0;" parses to
// a one-byte NUL key instead of a truncated one, and a document using an entity XML does not
// predefine (anything a DOCTYPE could declare) is refused instead of expanded.
// Thread safety: the parsers are pure functions; an XmlWriter is used by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "libstore/common/checksum.h"
#include "libstore/common/status.h"

namespace cairn::s3 {

inline constexpr std::string_view kS3Namespace = "http://s3.amazonaws.com/doc/2006-03-01/";

// Appends an XML document to a string the caller owns (and reuses: a cleared string keeps its
// capacity, so a steady request rate writes responses without allocating).
//
// Every value is escaped: & < > " ' as the predefined entities, and every C0 control character,
// DEL, CR and tab as a character reference (so NUL is "&#x0;", never an end of string, and CR is
// not folded into LF by the client's parser, as S3 asks for keys). XML 1.0 cannot carry bytes that
// are not UTF-8, nor U+FFFE/U+FFFF: such a value is written with U+FFFD in their place, so the
// document stays well formed, and status() turns kInvalidArgument naming the element: the caller
// should not send the document (S3 lists such keys with encoding-type=url).
// Element names are the caller's literals; they are not escaped and must outlive the element.
class XmlWriter {
 public:
  explicit XmlWriter(std::string* out) : out_(out) {}
  // <?xml version="1.0" encoding="UTF-8"?>
  void Declaration();
  // <name> or <name xmlns="ns">; closed by Close().
  void Open(std::string_view name, std::string_view xmlns = {});
  // Closes the innermost open element. Closing with nothing open is a bug: status() -> kInternal.
  void Close();
  // <name>escaped text</name>
  void Element(std::string_view name, std::string_view text);
  void Element(std::string_view name, const char* text) { Element(name, std::string_view(text)); }
  void Element(std::string_view name, uint64_t v);
  void Element(std::string_view name, bool v);  // "true" / "false"
  // <name/>
  void Empty(std::string_view name);
  // Closes whatever is still open.
  void Finish();
  size_t depth() const { return stack_.size(); }
  const Status& status() const { return status_; }

  // Appends `text` escaped as above; false if it held something XML cannot carry.
  static bool AppendEscaped(std::string_view text, std::string* out);

 private:
  std::string* out_;
  std::vector<std::string_view> stack_;
  Status status_;
};

// Limits on a request body, checked before and while parsing; beyond them kMalformedXml.
struct XmlLimits {
  size_t max_bytes = size_t{4} << 20;  // 1,000 keys of 1,024 bytes or 10,000 parts, escaped
  size_t max_depth = 8;                // S3's request bodies nest 3 deep
};
inline constexpr size_t kMaxDeleteObjects = 1000;
inline constexpr size_t kMaxParts = 10000;

// DeleteObjects: <Delete><Quiet>true</Quiet><Object><Key>k</Key><VersionId>v</VersionId>
// </Object>...</Delete>. 1 to 1000 objects, each with a non-empty Key; anything else is
// kMalformedXml with a message saying what. Elements S3 added later (ETag, Size, ...) are ignored.
struct DeleteObjectsRequest {
  struct Object {
    std::string key;
    std::string version_id;  // "" when absent
  };
  bool quiet = false;
  std::vector<Object> objects;
};
Result<DeleteObjectsRequest> ParseDeleteObjects(std::string_view body, const XmlLimits& lim = {});

// CreateBucket's optional body: <CreateBucketConfiguration><LocationConstraint>r
// </LocationConstraint></CreateBucketConfiguration>. An empty body is no configuration.
struct CreateBucketConfiguration {
  std::string location_constraint;  // "" when absent
};
Result<CreateBucketConfiguration> ParseCreateBucketConfiguration(std::string_view body,
                                                                 const XmlLimits& lim = {});

// CompleteMultipartUpload: <CompleteMultipartUpload><Part><PartNumber>1</PartNumber>
// <ETag>"..."</ETag><ChecksumCRC32>...</ChecksumCRC32></Part>...</CompleteMultipartUpload>.
// 1 to 10,000 parts; PartNumber a decimal integer in [1, 10000] (else kInvalidArgument) and the
// parts in strictly ascending order (else kInvalidPartOrder); an ETag is required; at most one
// Checksum* element per part, parsed by ParseChecksum (kInvalidDigest when malformed). Other
// malformed input is kMalformedXml.
struct CompletedPart {
  uint32_t part_number = 0;
  std::string etag;  // as sent (quotes included when the client sent them)
  std::optional<ChecksumValue> checksum;
};
struct CompleteMultipartUploadRequest {
  std::vector<CompletedPart> parts;
};
Result<CompleteMultipartUploadRequest> ParseCompleteMultipartUpload(std::string_view body,
                                                                    const XmlLimits& lim = {});

// A parsed document as a tree, for the S3 client's responses (ListBuckets, ListObjectsV2,
// DeleteObjects, multipart, CopyObject results and <Error>). Names are local (no namespace
// prefix); `text` is the decoded character data of a leaf (empty for a container).
struct XmlElement {
  std::string name;
  std::string text;
  std::vector<XmlElement> children;
  // The first child named `name`, or null.
  const XmlElement* Child(std::string_view name) const;
  // The text of the first child named `name`, or "" when there is none.
  std::string_view ChildText(std::string_view name) const;
};
// Parses `body` whose root element must be named `root` (kMalformedXml otherwise, and for
// anything the request parsers refuse: bytes that are not UTF-8, unknown entities, limits).
Result<XmlElement> ParseXmlTree(std::string_view body, std::string_view root,
                                const XmlLimits& lim = {});

// The element name S3 uses for a checksum in XML ("ChecksumCRC64NVME"); "" for kNone.
const char* ChecksumElementName(ChecksumAlgorithm a);

}  // namespace cairn::s3
