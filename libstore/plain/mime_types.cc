#include "libstore/plain/mime_types.h"

#include "libstore/volume/volume.h"

namespace cairn {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  }
  return out;
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r'; }

}  // namespace

MimeTypes MimeTypes::Parse(std::string_view text) {
  MimeTypes t;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? text.npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    if (size_t hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    // Words of the line.
    std::string_view type;
    size_t i = 0;
    while (i < line.size()) {
      while (i < line.size() && IsSpace(line[i])) ++i;
      size_t j = i;
      while (j < line.size() && !IsSpace(line[j])) ++j;
      if (j == i) break;
      std::string_view word = line.substr(i, j - i);
      i = j;
      if (type.empty()) {
        if (word.find('/') == std::string_view::npos) break;  // not a type: skip the line
        type = word;
        continue;
      }
      t.by_ext_.emplace(Lower(word), std::string(type));
    }
  }
  return t;
}

Result<MimeTypes> MimeTypes::Load(const std::string& path) {
  // The file is the user's system configuration: followed through links like any path given.
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  auto vol = NewLocalVolume(dir, LocalPathMode::kFollowLinks);
  auto text = vol->ReadFile(slash == std::string::npos ? path : path.substr(slash + 1), 4 << 20);
  if (!text.ok()) {
    if (text.status().code() == Code::kNotFound) return MimeTypes();
    return text.status();
  }
  return Parse(*text);
}

std::string_view MimeTypes::TypeOf(std::string_view name) const {
  size_t slash = name.rfind('/');
  if (slash != std::string_view::npos) name = name.substr(slash + 1);
  size_t dot = name.rfind('.');
  if (dot == std::string_view::npos || dot + 1 == name.size()) return kDefaultContentType;
  auto it = by_ext_.find(Lower(name.substr(dot + 1)));
  return it == by_ext_.end() ? kDefaultContentType : std::string_view(it->second);
}

}  // namespace cairn
