// What `cairn cp` copies: wildcard patterns, the local walk (streamed), and the checks that keep a
// downloaded key inside its target directory. No S3 requests here (commands/cp.cc lists).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "libstore/client/key_filter.h"
#include "libstore/common/status.h"

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace cairn::cli {

// True when s holds a wildcard character: '*' or '?'.
bool HasWildcard(std::string_view s);
// Glob match of a whole path or key: '?' one character and '*' any run of characters, neither
// crossing '/'; '**' any run, '/' included. Every other character matches itself.
bool WildcardMatch(std::string_view pattern, std::string_view text);
// The part of a pattern before its first wildcard, cut back to its last '/' (kept): the
// directory (or key prefix) every match lies below. "a/b*/c" -> "a/"; "x*" -> "".
std::string WildcardBase(std::string_view pattern);

// The local path a key relative to a download's source prefix maps to, below the target
// directory: kInvalidArgument (the object is refused, nothing is written) when it could escape
// it or name no file: an absolute key, an empty segment ("a//b", a trailing '/'), "." or "..".
Status CheckRelativeKey(std::string_view rel);

// One entry of a local walk: a regular file (size known) or an entry refused with a reason.
struct LocalEntry {
  std::string path;  // as it is opened: the root joined with rel
  std::string rel;   // relative to the walk's root, '/'-separated ("" for a root that is a file)
  uint64_t size = 0;
  Status error;  // not OK: not a regular file, unreadable directory, a symlink loop...
};

// Walks `root` depth first, calling on_entry for every file below it (in readdir order), with
// one open directory per level (never the whole tree in memory). Symlinks are followed, like the
// aws cli does, but a directory already open higher up the walk (a loop) is refused. max_depth
// limits the levels below root (-1: no limit). A root that is a file yields that file. Stops
// when on_entry returns an error (returned). A root that cannot be read: its error.
Status WalkLocal(const std::string& root, int max_depth,
                 const std::function<Status(LocalEntry&&)>& on_entry);

// The --exclude / --include flags of the bulk commands (cp, sync; libstore/client/key_filter.h).
// Bind adds both (repeatable) to a subcommand; Rules, once it is parsed, gives them in the order
// they were given on the command line (the last rule that matches decides).
class FilterFlags {
 public:
  void Bind(CLI::App* sub);
  std::vector<s3::FilterRule> Rules() const;

 private:
  CLI::App* sub_ = nullptr;
  CLI::Option* exclude_ = nullptr;
  CLI::Option* include_ = nullptr;
};

}  // namespace cairn::cli
