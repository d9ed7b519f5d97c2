// Text that comes from data (object keys, metadata, member paths) shown to a person: a key may hold
// any byte but NUL, so printing it raw lets it move the cursor, recolour or clear the terminal,
// or fake a line of output.
//
// A character is "unprintable" here when it is a C0 control (U+0000..U+001F), DEL, a C1 control
// (U+0080..U+009F), a Unicode line or paragraph separator (U+2028, U+2029), a bidirectional
// control (U+061C, U+200E, U+200F, U+202A..U+202E, U+2066..U+2069), or a byte that does not
// belong to well-formed UTF-8. Everything else that is valid UTF-8 is shown as it is.
//
// Thread safety: every function is pure, except StdoutIsTerminal (cached on first call).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace cairn::cli {

// Length (1-4) of the well-formed UTF-8 sequence that starts at s[i], and its code point in
// *code_point; 0 when s[i] starts none (a stray continuation byte, an overlong form, a
// surrogate, a value past U+10FFFF, a sequence cut short). Requires i < s.size().
size_t Utf8Length(std::string_view s, size_t i, uint32_t* code_point = nullptr);

// True when all of s is well-formed UTF-8 (the empty string is).
bool IsUtf8(std::string_view s);

// Quotes s for a terminal the way GNU ls's default style ("shell-escape") does, so that the text
// pasted into bash, zsh or ksh93 stands for exactly the bytes of s:
//   - unchanged when s has no unprintable character and nothing a shell treats specially
//     (space and !"$&'()*;<=>?[\]^`{|}, and # or ~ at the start);
//   - otherwise in single quotes ('a b'), or in double quotes when s holds ' but nothing that is
//     special inside double quotes ("it's");
//   - unprintable characters go between the quoted runs as ANSI-C strings, one escape per byte:
//     \a \b \t \n \v \f \r by name, every other byte as three octal digits ('a'$'\033''[1m').
// The empty string is ''.
std::string ShellEscape(std::string_view s);

// s with every unprintable character replaced by its escapes (as in ShellEscape, without the
// quotes): for one-line messages on stderr. Other bytes, backslashes included, stay as they are.
std::string EscapeUnprintable(std::string_view s);

// True when stdout is a terminal (isatty(1), asked once).
bool StdoutIsTerminal();

// What the human output prints for a key, prefix, bucket or other text taken from data:
// ShellEscape(s) when stdout is a terminal, else s unchanged (as GNU ls does, so that scripts get
// the bytes; use --json to get them unambiguously).
std::string Shown(std::string_view s);

}  // namespace cairn::cli
