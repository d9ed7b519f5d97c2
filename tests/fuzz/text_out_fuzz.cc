// How text from data (keys, metadata, paths: any bytes but NUL) reaches a terminal or JSON
// (cli/text_out.h, cli/json_out.h). For any bytes:
//   - IsUtf8 agrees with a UTF-8 decoder of our own;
//   - ShellEscape gives one line with no unprintable character that a POSIX shell reads back as
//     exactly those bytes (unquoted here by a reader of the quoting it documents);
//   - EscapeUnprintable leaves no unprintable character;
//   - PutText is lossless: the JSON parses back to the bytes, from "key" or from "key_url".
// Coverage: cli/text_out.cc cairn::cli::ShellEscape(
// Coverage: cli/text_out.cc cairn::cli::EscapeUnprintable(
// Coverage: cli/text_out.cc cairn::cli::Utf8Length(
#include "cli/json_out.h"
#include "cli/text_out.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/utf8_ref.h"

namespace cairn {
namespace {

// The header's list: C0, DEL, C1, U+2028/9 and the bidirectional controls.
bool Unprintable(uint32_t c) {
  return c < 0x20 || c == 0x7F || (c >= 0x80 && c <= 0x9F) || c == 0x061C || c == 0x200E ||
         c == 0x200F || c == 0x2028 || c == 0x2029 || (c >= 0x202A && c <= 0x202E) ||
         (c >= 0x2066 && c <= 0x2069);
}

void CheckPrintable(const std::string& s) {
  std::vector<uint32_t> cps;
  FUZZ_CHECK(fuzz::DecodeUtf8(s, &cps));
  for (uint32_t c : cps) FUZZ_CHECK(!Unprintable(c));
}

bool ShellSpecial(char c, bool first) {
  return std::string_view(" !\"$&'()*;<=>?[\\]^`{|}").find(c) != std::string_view::npos ||
         (first && (c == '#' || c == '~'));
}

// Reads a word quoted as ShellEscape documents it, as bash would: '...', "..." (with nothing
// special inside), $'...' with \a \b \t \n \v \f \r \\ \' and \NNN, \' between quotes, and bare
// characters that are not special. False on anything else.
bool ShellUnquote(std::string_view w, std::string* out) {
  out->clear();
  for (size_t i = 0; i < w.size();) {
    if (w[i] == '\'') {
      size_t end = w.find('\'', i + 1);
      if (end == std::string_view::npos) return false;
      out->append(w.substr(i + 1, end - i - 1));
      i = end + 1;
    } else if (w[i] == '"') {
      size_t end = w.find('"', i + 1);
      if (end == std::string_view::npos) return false;
      std::string_view in = w.substr(i + 1, end - i - 1);
      if (in.find_first_of("$`\\!") != std::string_view::npos) return false;
      out->append(in);
      i = end + 1;
    } else if (w[i] == '\\') {
      if (i + 1 >= w.size()) return false;
      out->push_back(w[i + 1]);
      i += 2;
    } else if (w.substr(i, 2) == "$'") {
      i += 2;
      while (true) {
        if (i >= w.size()) return false;
        if (w[i] == '\'') {
          ++i;
          break;
        }
        if (w[i] != '\\') {
          out->push_back(w[i++]);
          continue;
        }
        if (i + 1 >= w.size()) return false;
        const char e = w[i + 1];
        const std::string_view named = "a\ab\bt\tn\nv\vf\fr\r\\\\''";
        size_t at = named.find(e);
        if (at != std::string_view::npos && at % 2 == 0) {
          out->push_back(named[at + 1]);
          i += 2;
        } else if (e >= '0' && e <= '7') {
          int v = 0, n = 0;
          for (i += 1; n < 3 && i < w.size() && w[i] >= '0' && w[i] <= '7'; ++i, ++n) {
            v = v * 8 + (w[i] - '0');
          }
          out->push_back(char(v));
        } else {
          return false;
        }
      }
    } else {
      if (ShellSpecial(w[i], i == 0)) return false;
      out->push_back(w[i++]);
    }
  }
  return true;
}

// %XX of the bytes outside A-Z a-z 0-9 - . _ ~ /, upper-case hex.
bool UrlDecode(std::string_view s, std::string* out) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  auto plain = [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~' || c == '/';
  };
  out->clear();
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      if (!plain(s[i])) return false;
      out->push_back(s[i]);
      continue;
    }
    if (s.size() - i < 3) return false;
    int h = hex(s[i + 1]), l = hex(s[i + 2]);
    if (h < 0 || l < 0) return false;
    const char c = char(h * 16 + l);
    if (plain(c)) return false;  // only what needs it is encoded
    out->push_back(c);
    i += 2;
  }
  return true;
}

}  // namespace
}  // namespace cairn

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cairn;
  const std::string s(reinterpret_cast<const char*>(data), size);
  std::vector<uint32_t> cps;
  const bool utf8 = fuzz::DecodeUtf8(s, &cps);
  FUZZ_CHECK(cli::IsUtf8(s) == utf8);

  const std::string quoted = cli::ShellEscape(s);
  CheckPrintable(quoted);
  std::string back;
  FUZZ_CHECK(ShellUnquote(quoted, &back));
  FUZZ_CHECK(back == s);

  CheckPrintable(cli::EscapeUnprintable(s));

  nlohmann::json j = nlohmann::json::object();
  cli::PutText(j, "key", s);
  const auto parsed = nlohmann::json::parse(cli::Dump(j));
  FUZZ_CHECK(parsed.size() == 1);
  if (utf8) {
    FUZZ_CHECK(parsed.contains("key") && parsed["key"].get<std::string>() == s);
  } else {
    FUZZ_CHECK(parsed.contains("key_url"));
    FUZZ_CHECK(UrlDecode(parsed["key_url"].get<std::string>(), &back) && back == s);
  }
  return 0;
}
