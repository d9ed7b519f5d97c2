#include "libstore/s3/xml.h"

#include <charconv>
#include <cstring>
#include <pugixml.hpp>

namespace cairn::s3 {
namespace {

// ---- UTF-8 -------------------------------------------------------------------------------

// Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlongs, no surrogates, nothing
// above U+10FFFF) and its code point, or 0 when there is none.
size_t Utf8Sequence(const uint8_t* p, size_t n, uint32_t* cp) {
  const uint8_t b = p[0];
  if (b < 0x80) {
    *cp = b;
    return 1;
  }
  size_t len;
  uint32_t v;
  uint8_t lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
  if (b >= 0xC2 && b <= 0xDF) {
    len = 2, v = b & 0x1F;
  } else if (b >= 0xE0 && b <= 0xEF) {
    len = 3, v = b & 0x0F;
    if (b == 0xE0) lo = 0xA0;
    if (b == 0xED) hi = 0x9F;
  } else if (b >= 0xF0 && b <= 0xF4) {
    len = 4, v = b & 0x07;
    if (b == 0xF0) lo = 0x90;
    if (b == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (n < len || p[1] < lo || p[1] > hi) return 0;
  v = v << 6 | (p[1] & 0x3F);
  for (size_t i = 2; i < len; ++i) {
    if ((p[i] & 0xC0) != 0x80) return 0;
    v = v << 6 | (p[i] & 0x3F);
  }
  *cp = v;
  return len;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | cp >> 6));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | cp >> 12));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | cp >> 18));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD

}  // namespace

// ---- Writer ------------------------------------------------------------------------------

bool XmlWriter::AppendEscaped(std::string_view text, std::string* out) {
  static const char kHex[] = "0123456789ABCDEF";
  bool clean = true;
  const auto* p = reinterpret_cast<const uint8_t*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    // Copy the run that needs nothing in one append.
    size_t j = i;
    while (j < n && p[j] >= 0x20 && p[j] < 0x7F && p[j] != '&' && p[j] != '<' && p[j] != '>' &&
           p[j] != '"' && p[j] != '\'') {
      ++j;
    }
    out->append(text.data() + i, j - i);
    i = j;
    if (i == n) break;
    const uint8_t b = p[i];
    switch (b) {
      case '&':
        out->append("&amp;");
        ++i;
        continue;
      case '<':
        out->append("&lt;");
        ++i;
        continue;
      case '>':
        out->append("&gt;");
        ++i;
        continue;
      case '"':
        out->append("&quot;");
        ++i;
        continue;
      case '\'':
        out->append("&apos;");
        ++i;
        continue;
      default:
        break;
    }
    if (b < 0x20 || b == 0x7F) {
      out->append("&#x");
      if (b >= 0x10) out->push_back(kHex[b >> 4]);
      out->push_back(kHex[b & 15]);
      out->push_back(';');
      ++i;
      continue;
    }
    uint32_t cp = 0;
    size_t len = Utf8Sequence(p + i, n - i, &cp);
    if (len == 0 || cp == 0xFFFE || cp == 0xFFFF) {
      out->append(kReplacement);
      clean = false;
      i += len == 0 ? 1 : len;
      continue;
    }
    out->append(text.data() + i, len);
    i += len;
  }
  return clean;
}

void XmlWriter::Declaration() { out_->append("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"); }

void XmlWriter::Open(std::string_view name, std::string_view xmlns) {
  out_->push_back('<');
  out_->append(name);
  if (!xmlns.empty()) {
    out_->append(" xmlns=\"");
    AppendEscaped(xmlns, out_);
    out_->push_back('"');
  }
  out_->push_back('>');
  stack_.push_back(name);
}

void XmlWriter::Close() {
  if (stack_.empty()) {
    if (status_.ok()) status_ = Internal("XmlWriter::Close with no open element");
    return;
  }
  out_->append("</");
  out_->append(stack_.back());
  out_->push_back('>');
  stack_.pop_back();
}

void XmlWriter::Element(std::string_view name, std::string_view text) {
  out_->push_back('<');
  out_->append(name);
  out_->push_back('>');
  if (!AppendEscaped(text, out_) && status_.ok()) {
    status_ = InvalidArgument("the value of <" + std::string(name) +
                              "> is not UTF-8 that XML 1.0 can carry");
  }
  out_->append("</");
  out_->append(name);
  out_->push_back('>');
}

void XmlWriter::Element(std::string_view name, uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  Element(name, std::string_view(buf, static_cast<size_t>(r.ptr - buf)));
}

void XmlWriter::Element(std::string_view name, bool v) { Element(name, v ? "true" : "false"); }

void XmlWriter::Empty(std::string_view name) {
  out_->push_back('<');
  out_->append(name);
  out_->append("/>");
}

void XmlWriter::Finish() {
  while (!stack_.empty()) Close();
}

// ---- Reading -----------------------------------------------------------------------------

namespace {

Status Malformed(std::string what) {
  return Status(Code::kMalformedXml,
                "The XML you provided was not well-formed or did not validate against our "
                "published schema: " +
                    what);
}

// An element's name without its namespace prefix.
std::string_view LocalName(const pugi::xml_node& n) {
  std::string_view s = n.name();
  size_t colon = s.rfind(':');
  return colon == std::string_view::npos ? s : s.substr(colon + 1);
}

bool IsXmlSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool AllSpace(std::string_view s) {
  for (char c : s) {
    if (!IsXmlSpace(c)) return false;
  }
  return true;
}

// Decodes the predefined entities and character references of raw text (pugixml leaves them to
// us), appending to out.
Status DecodeText(std::string_view raw, std::string_view element, std::string* out) {
  size_t i = 0;
  while (i < raw.size()) {
    size_t amp = raw.find('&', i);
    if (amp == std::string_view::npos) amp = raw.size();
    out->append(raw.data() + i, amp - i);
    if (amp == raw.size()) break;
    size_t semi = raw.find(';', amp);
    if (semi == std::string_view::npos || semi - amp > 12) {
      return Malformed("a '&' in <" + std::string(element) + "> starts no reference");
    }
    std::string_view ref = raw.substr(amp + 1, semi - amp - 1);
    if (ref == "amp") {
      out->push_back('&');
    } else if (ref == "lt") {
      out->push_back('<');
    } else if (ref == "gt") {
      out->push_back('>');
    } else if (ref == "quot") {
      out->push_back('"');
    } else if (ref == "apos") {
      out->push_back('\'');
    } else if (ref.size() >= 2 && ref[0] == '#') {
      const bool hex = ref[1] == 'x';
      std::string_view digits = ref.substr(hex ? 2 : 1);
      uint32_t cp = 0;
      auto r = std::from_chars(digits.data(), digits.data() + digits.size(), cp, hex ? 16 : 10);
      if (digits.empty() || r.ec != std::errc() || r.ptr != digits.data() + digits.size() ||
          cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return Malformed("bad character reference '&" + std::string(ref) + ";' in <" +
                         std::string(element) + ">");
      }
      AppendUtf8(cp, out);
    } else {
      return Malformed("unknown entity '&" + std::string(ref) + ";' in <" + std::string(element) +
                       ">");
    }
    i = semi + 1;
  }
  return Status::Ok();
}

// The decoded text of a leaf element: its character data and CDATA sections, in order.
Result<std::string> TextOf(const pugi::xml_node& e) {
  std::string s;
  const std::string_view name = LocalName(e);
  for (pugi::xml_node c = e.first_child(); c; c = c.next_sibling()) {
    if (c.type() == pugi::node_pcdata) {
      RETURN_IF_ERROR(DecodeText(c.value(), name, &s));
    } else if (c.type() == pugi::node_cdata) {
      s.append(c.value());
    } else if (c.type() == pugi::node_element) {
      return Malformed("<" + std::string(name) + "> holds an element where a value belongs");
    }
  }
  return s;
}

// The single child element of `parent` named `name`, or an empty node; two is an error.
Result<pugi::xml_node> OneChild(const pugi::xml_node& parent, std::string_view name) {
  pugi::xml_node found;
  for (pugi::xml_node c = parent.first_child(); c; c = c.next_sibling()) {
    if (c.type() != pugi::node_element || LocalName(c) != name) continue;
    if (found)
      return Malformed("more than one <" + std::string(name) + "> in <" +
                       std::string(LocalName(parent)) + ">");
    found = c;
  }
  return found;
}

// Container elements hold elements and white space only.
Status CheckContainer(const pugi::xml_node& e) {
  for (pugi::xml_node c = e.first_child(); c; c = c.next_sibling()) {
    if ((c.type() == pugi::node_pcdata && !AllSpace(c.value())) || c.type() == pugi::node_cdata) {
      return Malformed("text directly inside <" + std::string(LocalName(e)) + ">");
    }
  }
  return Status::Ok();
}

// Parses `body` into doc and returns its root element, which must be named `root`.
Result<pugi::xml_node> Load(pugi::xml_document& doc, std::string_view body, const XmlLimits& lim,
                            std::string_view root) {
  if (body.size() > lim.max_bytes) {
    return Malformed("the body of " + std::to_string(body.size()) +
                     " bytes is above the limit of " + std::to_string(lim.max_bytes));
  }
  // pugixml stops at a NUL; nothing after it may go unread. And the document must be UTF-8.
  const auto* p = reinterpret_cast<const uint8_t*>(body.data());
  for (size_t i = 0; i < body.size();) {
    uint32_t cp = 0;
    size_t len = Utf8Sequence(p + i, body.size() - i, &cp);
    if (len == 0 || cp == 0) {
      return Malformed(std::string(cp == 0 && len ? "a NUL byte" : "bytes that are not UTF-8") +
                       " at offset " + std::to_string(i));
    }
    i += len;
  }
  // Escapes are ours (DecodeText); white-space-only text is kept because it may be a key; text
  // outside the root is kept (parse_fragment) so that it can be refused, not silently dropped.
  const unsigned opts =
      pugi::parse_cdata | pugi::parse_eol | pugi::parse_ws_pcdata | pugi::parse_fragment;
  pugi::xml_parse_result r = doc.load_buffer(body.data(), body.size(), opts, pugi::encoding_utf8);
  if (!r) {
    return Malformed(std::string(r.description()) + " at offset " + std::to_string(r.offset));
  }
  pugi::xml_node top;
  for (pugi::xml_node c = doc.first_child(); c; c = c.next_sibling()) {
    if (c.type() == pugi::node_element) {
      if (top) return Malformed("more than one root element");
      top = c;
    } else if ((c.type() == pugi::node_pcdata && !AllSpace(c.value())) ||
               c.type() == pugi::node_cdata) {
      return Malformed("text outside the root element");
    }
  }
  if (!top) return Malformed("no root element");
  if (LocalName(top) != root) {
    return Malformed("the root element is <" + std::string(LocalName(top)) + ">, not <" +
                     std::string(root) + ">");
  }
  // Depth of nodes (text counts: <Delete><Object><Key>k is 4), without recursion.
  size_t depth = 2;
  for (pugi::xml_node n = top.first_child(); n && n != top;) {
    if (n.first_child()) {
      if (++depth > lim.max_depth) {
        return Malformed("elements nested deeper than " + std::to_string(lim.max_depth));
      }
      n = n.first_child();
      continue;
    }
    while (n != top && !n.next_sibling()) {
      n = n.parent();
      --depth;
    }
    if (n != top) n = n.next_sibling();
  }
  return top;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

}  // namespace

Result<DeleteObjectsRequest> ParseDeleteObjects(std::string_view body, const XmlLimits& lim) {
  pugi::xml_document doc;
  ASSIGN_OR_RETURN(pugi::xml_node root, Load(doc, body, lim, "Delete"));
  RETURN_IF_ERROR(CheckContainer(root));
  DeleteObjectsRequest req;
  ASSIGN_OR_RETURN(pugi::xml_node quiet, OneChild(root, "Quiet"));
  if (quiet) {
    ASSIGN_OR_RETURN(std::string q, TextOf(quiet));
    if (EqualsIgnoreCase(q, "true")) {
      req.quiet = true;
    } else if (!EqualsIgnoreCase(q, "false")) {
      return Malformed("<Quiet> must be true or false");
    }
  }
  for (pugi::xml_node o = root.first_child(); o; o = o.next_sibling()) {
    if (o.type() != pugi::node_element || LocalName(o) != "Object") continue;
    if (req.objects.size() == kMaxDeleteObjects) {
      return Malformed("more than " + std::to_string(kMaxDeleteObjects) + " objects to delete");
    }
    RETURN_IF_ERROR(CheckContainer(o));
    DeleteObjectsRequest::Object obj;
    ASSIGN_OR_RETURN(pugi::xml_node key, OneChild(o, "Key"));
    if (!key) return Malformed("an <Object> without a <Key>");
    ASSIGN_OR_RETURN(obj.key, TextOf(key));
    if (obj.key.empty()) return Malformed("an empty <Key>");
    ASSIGN_OR_RETURN(pugi::xml_node version, OneChild(o, "VersionId"));
    if (version) {
      ASSIGN_OR_RETURN(obj.version_id, TextOf(version));
    }
    req.objects.push_back(std::move(obj));
  }
  if (req.objects.empty()) return Malformed("no <Object> to delete");
  return req;
}

Result<CreateBucketConfiguration> ParseCreateBucketConfiguration(std::string_view body,
                                                                 const XmlLimits& lim) {
  CreateBucketConfiguration cfg;
  if (AllSpace(body)) return cfg;
  pugi::xml_document doc;
  ASSIGN_OR_RETURN(pugi::xml_node root, Load(doc, body, lim, "CreateBucketConfiguration"));
  RETURN_IF_ERROR(CheckContainer(root));
  ASSIGN_OR_RETURN(pugi::xml_node loc, OneChild(root, "LocationConstraint"));
  if (loc) {
    ASSIGN_OR_RETURN(cfg.location_constraint, TextOf(loc));
  }
  return cfg;
}

const char* ChecksumElementName(ChecksumAlgorithm a) {
  switch (a) {
    case ChecksumAlgorithm::kNone:
      return "";
    case ChecksumAlgorithm::kCrc32:
      return "ChecksumCRC32";
    case ChecksumAlgorithm::kCrc32c:
      return "ChecksumCRC32C";
    case ChecksumAlgorithm::kCrc64Nvme:
      return "ChecksumCRC64NVME";
    case ChecksumAlgorithm::kSha1:
      return "ChecksumSHA1";
    case ChecksumAlgorithm::kSha256:
      return "ChecksumSHA256";
  }
  return "";
}

Result<CompleteMultipartUploadRequest> ParseCompleteMultipartUpload(std::string_view body,
                                                                    const XmlLimits& lim) {
  pugi::xml_document doc;
  ASSIGN_OR_RETURN(pugi::xml_node root, Load(doc, body, lim, "CompleteMultipartUpload"));
  RETURN_IF_ERROR(CheckContainer(root));
  CompleteMultipartUploadRequest req;
  for (pugi::xml_node p = root.first_child(); p; p = p.next_sibling()) {
    if (p.type() != pugi::node_element || LocalName(p) != "Part") continue;
    if (req.parts.size() == kMaxParts) {
      return Malformed("more than " + std::to_string(kMaxParts) + " parts");
    }
    RETURN_IF_ERROR(CheckContainer(p));
    CompletedPart part;
    ASSIGN_OR_RETURN(pugi::xml_node num, OneChild(p, "PartNumber"));
    if (!num) return Malformed("a <Part> without a <PartNumber>");
    ASSIGN_OR_RETURN(std::string digits, TextOf(num));
    uint64_t n = 0;
    auto r = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (digits.empty() || digits.size() > 12 || digits[0] == '-' || digits[0] == '+' ||
        r.ec != std::errc() || r.ptr != digits.data() + digits.size()) {
      return Malformed("<PartNumber> '" + digits + "' is not a decimal integer");
    }
    if (n < 1 || n > kMaxParts) {
      return Status(
          Code::kInvalidArgument,
          "Part number must be an integer between 1 and 10000, inclusive (got " + digits + ")");
    }
    part.part_number = static_cast<uint32_t>(n);
    if (!req.parts.empty() && part.part_number <= req.parts.back().part_number) {
      return Status(Code::kInvalidPartOrder, "The list of parts was not in ascending order: part " +
                                                 digits + " follows " +
                                                 std::to_string(req.parts.back().part_number));
    }
    ASSIGN_OR_RETURN(pugi::xml_node etag, OneChild(p, "ETag"));
    if (!etag) return Malformed("part " + digits + " has no <ETag>");
    ASSIGN_OR_RETURN(part.etag, TextOf(etag));
    for (int a = 1; a <= static_cast<int>(kLastChecksumAlgorithm); ++a) {
      const auto alg = static_cast<ChecksumAlgorithm>(a);
      ASSIGN_OR_RETURN(pugi::xml_node c, OneChild(p, ChecksumElementName(alg)));
      if (!c) continue;
      if (part.checksum) return Malformed("part " + digits + " has two checksums");
      ASSIGN_OR_RETURN(std::string b64, TextOf(c));
      ASSIGN_OR_RETURN(part.checksum, ParseChecksum(alg, b64));
    }
    req.parts.push_back(std::move(part));
  }
  if (req.parts.empty()) return Malformed("no <Part> to complete");
  return req;
}

// ---- Tree (client responses) ---------------------------------------------------------------

const XmlElement* XmlElement::Child(std::string_view n) const {
  for (const auto& c : children) {
    if (c.name == n) return &c;
  }
  return nullptr;
}

std::string_view XmlElement::ChildText(std::string_view n) const {
  const XmlElement* c = Child(n);
  return c == nullptr ? std::string_view() : std::string_view(c->text);
}

namespace {

// Copies e (already checked for depth by Load) into out; leaf text decoded by TextOf.
Status CopyTree(const pugi::xml_node& e, XmlElement* out) {
  out->name = LocalName(e);
  bool has_element = false;
  for (pugi::xml_node c = e.first_child(); c; c = c.next_sibling()) {
    if (c.type() == pugi::node_element) {
      has_element = true;
      out->children.emplace_back();
      RETURN_IF_ERROR(CopyTree(c, &out->children.back()));
    }
  }
  if (!has_element) {
    ASSIGN_OR_RETURN(out->text, TextOf(e));
  } else {
    RETURN_IF_ERROR(CheckContainer(e));
  }
  return Status::Ok();
}

}  // namespace

Result<XmlElement> ParseXmlTree(std::string_view body, std::string_view root,
                                const XmlLimits& lim) {
  pugi::xml_document doc;
  ASSIGN_OR_RETURN(pugi::xml_node top, Load(doc, body, lim, root));
  XmlElement out;
  RETURN_IF_ERROR(CopyTree(top, &out));
  return out;
}

}  // namespace cairn::s3
