#include "cli/text_out.h"

#include <unistd.h>

namespace cairn::cli {
namespace {

bool Unprintable(uint32_t c) {
  return c < 0x20 || c == 0x7F || (c >= 0x80 && c <= 0x9F) || c == 0x061C || c == 0x200E ||
         c == 0x200F || c == 0x2028 || c == 0x2029 || (c >= 0x202A && c <= 0x202E) ||
         (c >= 0x2066 && c <= 0x2069);
}

// Characters a POSIX shell would take for something else when they stand unquoted in a word.
bool ShellSpecial(char c, bool first) {
  switch (c) {
    case ' ':
    case '!':
    case '"':
    case '$':
    case '&':
    case '\'':
    case '(':
    case ')':
    case '*':
    case ';':
    case '<':
    case '=':
    case '>':
    case '?':
    case '[':
    case '\\':
    case ']':
    case '^':
    case '`':
    case '{':
    case '|':
    case '}':
      return true;
    case '#':
    case '~':
      return first;
    default:
      return false;
  }
}

// The length of the character at s[i] and whether it is unprintable; an invalid byte counts as
// one unprintable character of length 1.
size_t Next(std::string_view s, size_t i, bool* unprintable) {
  uint32_t c = 0;
  size_t len = Utf8Length(s, i, &c);
  if (len == 0) {
    *unprintable = true;
    return 1;
  }
  *unprintable = Unprintable(c);
  return len;
}

void AppendEscapes(std::string_view bytes, std::string* out) {
  for (unsigned char b : bytes) {
    switch (b) {
      case '\a':
        *out += "\\a";
        break;
      case '\b':
        *out += "\\b";
        break;
      case '\t':
        *out += "\\t";
        break;
      case '\n':
        *out += "\\n";
        break;
      case '\v':
        *out += "\\v";
        break;
      case '\f':
        *out += "\\f";
        break;
      case '\r':
        *out += "\\r";
        break;
      default: {
        const char oct[] = {'\\', char('0' + (b >> 6)), char('0' + ((b >> 3) & 7)),
                            char('0' + (b & 7))};
        out->append(oct, 4);
      }
    }
  }
}

// 'text', with each ' written as '\'' (close, escaped quote, reopen).
void AppendSingleQuoted(std::string_view text, std::string* out) {
  *out += '\'';
  for (char c : text) {
    if (c == '\'')
      *out += "'\\''";
    else
      *out += c;
  }
  *out += '\'';
}

}  // namespace

size_t Utf8Length(std::string_view s, size_t i, uint32_t* code_point) {
  const auto b = [&](size_t j) { return static_cast<unsigned char>(s[j]); };
  const unsigned char lead = b(i);
  size_t len;
  uint32_t c, min;
  if (lead < 0x80) {
    if (code_point) *code_point = lead;
    return 1;
  } else if (lead >= 0xC2 && lead <= 0xDF) {
    len = 2, c = lead & 0x1F, min = 0x80;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    len = 3, c = lead & 0x0F, min = 0x800;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    len = 4, c = lead & 0x07, min = 0x10000;
  } else {
    return 0;  // a continuation byte, C0/C1 (overlong two-byte forms), or F5..FF
  }
  if (s.size() - i < len) return 0;
  for (size_t j = 1; j < len; ++j) {
    if ((b(i + j) & 0xC0) != 0x80) return 0;
    c = (c << 6) | (b(i + j) & 0x3F);
  }
  if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
  if (code_point) *code_point = c;
  return len;
}

bool IsUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    size_t len = Utf8Length(s, i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

std::string ShellEscape(std::string_view s) {
  if (s.empty()) return "''";
  bool special = false, unprintable = false;
  for (size_t i = 0; i < s.size();) {
    bool u;
    size_t len = Next(s, i, &u);
    unprintable |= u;
    special |= !u && len == 1 && ShellSpecial(s[i], i == 0);
    i += len;
  }
  if (!special && !unprintable) return std::string(s);
  std::string out;
  if (!unprintable) {
    if (s.find('\'') != std::string_view::npos &&
        s.find_first_of("\"$`\\!") == std::string_view::npos) {
      out = '"';
      out += s;
      out += '"';
    } else {
      AppendSingleQuoted(s, &out);
    }
    return out;
  }
  // Alternate runs: printable ones single-quoted, unprintable ones as $'...'.
  for (size_t i = 0; i < s.size();) {
    bool run_unprintable;
    size_t end = i + Next(s, i, &run_unprintable);
    while (end < s.size()) {
      bool u;
      size_t len = Next(s, end, &u);
      if (u != run_unprintable) break;
      end += len;
    }
    if (run_unprintable) {
      out += "$'";
      AppendEscapes(s.substr(i, end - i), &out);
      out += '\'';
    } else {
      AppendSingleQuoted(s.substr(i, end - i), &out);
    }
    i = end;
  }
  return out;
}

std::string EscapeUnprintable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    bool u;
    size_t len = Next(s, i, &u);
    if (u)
      AppendEscapes(s.substr(i, len), &out);
    else
      out.append(s.substr(i, len));
    i += len;
  }
  return out;
}

bool StdoutIsTerminal() {
  static const bool tty = ::isatty(1) == 1;
  return tty;
}

std::string Shown(std::string_view s) {
  return StdoutIsTerminal() ? ShellEscape(s) : std::string(s);
}

}  // namespace cairn::cli
