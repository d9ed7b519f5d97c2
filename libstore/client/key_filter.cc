#include "libstore/client/key_filter.h"

namespace cairn::s3 {
namespace {

// Matches one bracket expression starting at pattern[p] == '[' against byte c. Returns the index
// just past the closing ']' and sets *matched; returns npos when there is no closing ']' (then the
// '[' is a literal).
size_t MatchClass(std::string_view pattern, size_t p, unsigned char c, bool* matched) {
  size_t i = p + 1;
  bool negate = false;
  if (i < pattern.size() && (pattern[i] == '!' || pattern[i] == '^')) {
    negate = true;
    ++i;
  }
  const size_t first = i;
  bool hit = false;
  while (i < pattern.size() && (pattern[i] != ']' || i == first)) {
    const unsigned char lo = static_cast<unsigned char>(pattern[i]);
    if (i + 2 < pattern.size() && pattern[i + 1] == '-' && pattern[i + 2] != ']') {
      const unsigned char hi = static_cast<unsigned char>(pattern[i + 2]);
      if (lo <= c && c <= hi) hit = true;
      i += 3;
    } else {
      if (lo == c) hit = true;
      ++i;
    }
  }
  if (i >= pattern.size()) return std::string_view::npos;
  *matched = hit != negate;
  return i + 1;
}

}  // namespace

const char* Name(FilterKind k) { return k == FilterKind::kExclude ? "exclude" : "include"; }

bool GlobMatch(std::string_view pattern, std::string_view text) {
  // Greedy matching with one backtrack point, the last '*': O(|pattern| x |text|) at worst and no
  // recursion, whatever the number of stars.
  size_t p = 0, t = 0;
  size_t star_p = std::string_view::npos, star_t = 0;
  while (t < text.size()) {
    if (p < pattern.size()) {
      const char pc = pattern[p];
      if (pc == '*') {
        star_p = p++;
        star_t = t;
        continue;
      }
      if (pc == '?') {
        ++p;
        ++t;
        continue;
      }
      if (pc == '[') {
        bool matched = false;
        const size_t next = MatchClass(pattern, p, static_cast<unsigned char>(text[t]), &matched);
        if (next != std::string_view::npos) {
          if (matched) {
            p = next;
            ++t;
            continue;
          }
        } else if (text[t] == '[') {  // no closing ']': a literal '['
          ++p;
          ++t;
          continue;
        }
      } else if (pc == text[t]) {
        ++p;
        ++t;
        continue;
      }
    }
    if (star_p == std::string_view::npos) return false;
    // Let the last '*' take one more byte and try again from there.
    p = star_p + 1;
    t = ++star_t;
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool KeyFilter::Included(std::string_view rel_key) const {
  for (auto it = rules_.rbegin(); it != rules_.rend(); ++it) {
    if (GlobMatch(it->pattern, rel_key)) return it->kind == FilterKind::kInclude;
  }
  return true;
}

}  // namespace cairn::s3
