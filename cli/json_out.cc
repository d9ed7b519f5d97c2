#include "cli/json_out.h"

#include "cli/text_out.h"

namespace cairn::cli {

std::string UrlEncode(std::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~' || c == '/') {
      out += char(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

void PutText(nlohmann::json& j, const std::string& field, std::string_view text) {
  if (IsUtf8(text))
    j[field] = std::string(text);
  else
    j[field + "_url"] = UrlEncode(text);
}

void PutTextList(nlohmann::json& j, const std::string& field,
                 const std::vector<std::string>& texts) {
  bool utf8 = true;
  for (const auto& t : texts) utf8 = utf8 && IsUtf8(t);
  nlohmann::json list = nlohmann::json::array();
  for (const auto& t : texts) list.push_back(utf8 ? t : UrlEncode(t));
  j[utf8 ? field : field + "_url"] = std::move(list);
}

void PutMeta(nlohmann::json& j, const std::vector<std::pair<std::string, std::string>>& meta) {
  nlohmann::json plain = nlohmann::json::object(), url = nlohmann::json::object();
  for (const auto& [name, value] : meta) {
    if (IsUtf8(name) && IsUtf8(value))
      plain[name] = value;
    else
      url[UrlEncode(name)] = UrlEncode(value);
  }
  if (!plain.empty()) j["meta"] = std::move(plain);
  if (!url.empty()) j["meta_url"] = std::move(url);
}

}  // namespace cairn::cli
