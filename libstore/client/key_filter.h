// --exclude / --include filters of the bulk commands (sync, cp -r), as the aws cli applies them:
// every rule is a glob matched against the whole key relative to the transfer's root ("dir/a.txt"
// for s3://bkt/prefix/dir/a.txt under s3://bkt/prefix/, or for ROOT/dir/a.txt under ROOT); the
// last rule that matches decides; a key no rule matches is included.
//
// Globs (fnmatch without FNM_PATHNAME, like Python's fnmatch that the aws cli uses):
//   *       any run of bytes, '/' included ("*.tmp" matches "a/b.tmp")
//   ?       exactly one byte
//   [abc]   one byte of the set; ranges "a-z"; "[!...]" or "[^...]" negates; a ']' right after
//           '[' (or after "[!") is a member; a '[' with no closing ']' is a literal '['
// Anything else matches itself, byte for byte (no escape character: "[*]" is a literal '*').
// Bytes, not characters: "?" matches one byte of a multi-byte UTF-8 character.
//
// Thread safety: a KeyFilter is immutable once built; Included may be called from any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace cairn::s3 {

enum class FilterKind { kExclude, kInclude };
const char* Name(FilterKind k);  // "exclude", "include"

struct FilterRule {
  FilterKind kind = FilterKind::kExclude;
  std::string pattern;
};

// True when the whole of `text` matches the glob `pattern` (see the file comment).
bool GlobMatch(std::string_view pattern, std::string_view text);

class KeyFilter {
 public:
  KeyFilter() = default;  // no rules: everything is included
  explicit KeyFilter(std::vector<FilterRule> rules) : rules_(std::move(rules)) {}
  // Appends a rule; later rules win over earlier ones.
  void Add(FilterKind kind, std::string pattern) { rules_.push_back({kind, std::move(pattern)}); }
  // Whether rel_key (relative to the root, '/'-separated) takes part in the transfer.
  bool Included(std::string_view rel_key) const;
  bool empty() const { return rules_.empty(); }
  const std::vector<FilterRule>& rules() const { return rules_; }

 private:
  std::vector<FilterRule> rules_;
};

}  // namespace cairn::s3
