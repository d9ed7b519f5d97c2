// The JSON that commands print, and the one rule for text taken from data (keys, prefixes,
// metadata, paths) inside it.
//
// JSON strings hold Unicode, while a key may hold any byte but NUL. So every field that carries
// such text is written by PutText: as "<field>" when the text is well-formed UTF-8 (JSON's own
// escapes carry ESC, newline, tab and every other character exactly), and otherwise as
// "<field>_url": the bytes percent-encoded (every byte but A-Z a-z 0-9 - . _ ~ / as %XX, upper-case
// hex), in the spirit of S3's encoding-type=url. Exactly one of the two fields is present, so a
// consumer that only knows "<field>" sees it missing rather than a wrong key. docs/commands.md
// ("JSON output") documents this for users.
//
// Thread safety: every function is pure.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cairn::cli {

// Every byte but A-Z a-z 0-9 - . _ ~ / as %XX (upper-case hex).
std::string UrlEncode(std::string_view s);

// Sets j[field] = text when text is UTF-8, else j[field + "_url"] = UrlEncode(text).
void PutText(nlohmann::json& j, const std::string& field, std::string_view text);

// A list of such texts: j[field] = [text, ...] when every one is UTF-8, else
// j[field + "_url"] = [UrlEncode(text), ...] (all of them, so the list keeps its order).
void PutTextList(nlohmann::json& j, const std::string& field,
                 const std::vector<std::string>& texts);

// User metadata: j["meta"] = {name: value, ...} for the pairs whose name and value are both UTF-8,
// and j["meta_url"] = {UrlEncode(name): UrlEncode(value), ...} for the others (older objects may
// hold such bytes); either field is left out when it would be empty.
void PutMeta(nlohmann::json& j, const std::vector<std::pair<std::string, std::string>>& meta);

// Compact JSON, one line. Strings that are not UTF-8 are replaced rather than thrown on; text from
// data never gets there, as it goes through PutText.
inline std::string Dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace cairn::cli
