#include "commands/cp_sources.h"

#include <dirent.h>
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <vector>

namespace cairn::cli {

bool HasWildcard(std::string_view s) { return s.find_first_of("*?") != std::string_view::npos; }

bool WildcardMatch(std::string_view p, std::string_view t) {
  while (!p.empty()) {
    if (p[0] == '*') {
      const bool cross = p.size() > 1 && p[1] == '*';
      while (!p.empty() && p[0] == '*') p.remove_prefix(1);
      if (p.empty()) return cross || t.find('/') == std::string_view::npos;
      for (size_t i = 0; i <= t.size(); ++i) {
        if (WildcardMatch(p, t.substr(i))) return true;
        if (i < t.size() && t[i] == '/' && !cross) return false;
      }
      return false;
    }
    if (t.empty()) return false;
    if (p[0] == '?' ? t[0] == '/' : p[0] != t[0]) return false;
    p.remove_prefix(1);
    t.remove_prefix(1);
  }
  return t.empty();
}

std::string WildcardBase(std::string_view pattern) {
  const size_t w = pattern.find_first_of("*?");
  const std::string_view lit = pattern.substr(0, w);
  const size_t slash = lit.rfind('/');
  return slash == std::string_view::npos ? std::string() : std::string(lit.substr(0, slash + 1));
}

Status CheckRelativeKey(std::string_view rel) {
  auto refuse = [&](const char* why) {
    return Status(Code::kInvalidArgument,
                  "refusing to download the key part '" + std::string(rel) + "': " + why);
  };
  if (rel.empty()) return refuse("it names no file");
  if (rel.front() == '/') return refuse("an absolute path");
  size_t start = 0;
  while (true) {
    const size_t slash = rel.find('/', start);
    const std::string_view seg =
        rel.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (seg.empty()) return refuse("an empty path segment");
    if (seg == "." || seg == "..") return refuse("a '.' or '..' segment would leave the target");
    if (seg.find('\0') != std::string_view::npos) return refuse("a NUL byte");
    if (slash == std::string_view::npos) return Status::Ok();
    start = slash + 1;
  }
}

namespace {

struct Level {
  DIR* dir;
  std::string path, rel;
  dev_t dev;
  ino_t ino;
};

std::string Join(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  return a.back() == '/' ? a + b : a + "/" + b;
}

}  // namespace

Status WalkLocal(const std::string& root, int max_depth,
                 const std::function<Status(LocalEntry&&)>& on_entry) {
  struct stat st;
  if (::stat(root.c_str(), &st) != 0) return PosixError(root, errno);
  if (!S_ISDIR(st.st_mode)) {
    LocalEntry e;
    e.path = root;
    e.size = uint64_t(st.st_size);
    if (!S_ISREG(st.st_mode)) e.error = Status(Code::kInvalidArgument, root + ": not a regular file");
    return on_entry(std::move(e));
  }
  std::vector<Level> stack;
  auto push = [&](const std::string& path, const std::string& rel, const struct stat& s) -> Status {
    DIR* d = ::opendir(path.c_str());
    if (d == nullptr) return PosixError(path, errno);
    stack.push_back({d, path, rel, s.st_dev, s.st_ino});
    return Status::Ok();
  };
  RETURN_IF_ERROR(push(root, "", st));
  Status result;
  while (!stack.empty() && result.ok()) {
    errno = 0;
    struct dirent* de = ::readdir(stack.back().dir);
    if (de == nullptr) {
      const int e = errno;
      Level l = stack.back();
      stack.pop_back();
      ::closedir(l.dir);
      if (e != 0) {
        LocalEntry bad;
        bad.path = l.path;
        bad.rel = l.rel;
        bad.error = PosixError(l.path + ": reading the directory", e);
        result = on_entry(std::move(bad));
      }
      continue;
    }
    const std::string name = de->d_name;
    if (name == "." || name == "..") continue;
    const Level& top = stack.back();
    LocalEntry e;
    e.path = Join(top.path, name);
    e.rel = top.rel.empty() ? name : top.rel + "/" + name;
    // d_type saves a stat for plain files; size still needs one (taken once, here).
    if (::stat(e.path.c_str(), &st) != 0) {
      e.error = PosixError(e.path, errno);  // a dangling symlink, or gone since readdir
      result = on_entry(std::move(e));
      continue;
    }
    if (S_ISDIR(st.st_mode)) {
      if (max_depth >= 0 && int(stack.size()) > max_depth) continue;
      bool loop = false;
      for (const Level& l : stack) loop |= l.dev == st.st_dev && l.ino == st.st_ino;
      if (loop) {
        e.error = Status(Code::kInvalidArgument,
                         e.path + ": a symlink loop (the directory is already being copied)");
        result = on_entry(std::move(e));
        continue;
      }
      Status s = push(e.path, e.rel, st);
      if (!s.ok()) {
        e.error = s;
        result = on_entry(std::move(e));
      }
      continue;
    }
    e.size = uint64_t(st.st_size);
    if (!S_ISREG(st.st_mode)) {
      e.error = Status(Code::kInvalidArgument, e.path + ": not a regular file");
    }
    result = on_entry(std::move(e));
  }
  for (Level& l : stack) ::closedir(l.dir);
  return result;
}

void FilterFlags::Bind(CLI::App* sub) {
  sub_ = sub;
  exclude_ = sub->add_option("--exclude", "Leave out keys matching this glob (repeatable)")
                 ->type_name("PATTERN");
  include_ = sub->add_option("--include",
                             "Take keys matching this glob even if excluded before; "
                             "the last matching flag wins (repeatable)")
                 ->type_name("PATTERN");
  exclude_->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)->expected(1);
  include_->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)->expected(1);
}

std::vector<s3::FilterRule> FilterFlags::Rules() const {
  // CLI11 keeps each option's values apart; the parse order says how they interleave.
  std::vector<s3::FilterRule> rules;
  size_t ei = 0, ii = 0;
  for (const CLI::Option* opt : sub_->parse_order()) {
    if (opt == exclude_ && ei < exclude_->results().size()) {
      rules.push_back({s3::FilterKind::kExclude, exclude_->results()[ei++]});
    } else if (opt == include_ && ii < include_->results().size()) {
      rules.push_back({s3::FilterKind::kInclude, include_->results()[ii++]});
    }
  }
  return rules;
}

}  // namespace cairn::cli
