// MimeTypes: the content type of a file that did not arrive through cairn, from its extension,
// as nginx does, from a table in the format of /etc/mime.types ("type ext ext ..." per line, '#'
// comments). The table is parsed once and then read-only: thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "libstore/common/status.h"

namespace cairn {

constexpr std::string_view kDefaultContentType = "application/octet-stream";

class MimeTypes {
 public:
  // An empty table: every file is kDefaultContentType.
  MimeTypes() = default;
  // Parses text in mime.types format. Lines that are not "type/subtype ext..." are skipped.
  // Extensions are matched ignoring ASCII case; when two lines name one extension, the first wins.
  static MimeTypes Parse(std::string_view text);
  // Reads and parses a mime.types file (/etc/mime.types on Debian, package media-types). A missing
  // file is an empty table, not an error: every file is then kDefaultContentType.
  static Result<MimeTypes> Load(const std::string& path);

  // The type for a key or file name: by the extension of its last segment ("a/b.tar.gz" ->
  // "gz"); kDefaultContentType when there is none or it is unknown.
  std::string_view TypeOf(std::string_view name) const;
  size_t size() const { return by_ext_.size(); }

 private:
  std::unordered_map<std::string, std::string> by_ext_;  // lowercase extension -> type
};

}  // namespace cairn
