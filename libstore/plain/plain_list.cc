// PlainDir::ListObjects: S3 order over a directory tree, one directory in memory per level.
//
// Keys sort by their bytes, and a directory's keys all start with "name/": so within a directory,
// entries are ordered by their name with a '/' appended to directories ("a-b" < "a/" < "a0"), and
// walking the tree depth-first in that order yields keys in S3 order. A page starts by seeking:
// from the directory the prefix names, down the path of the key it starts after, it lists only the
// directories on that path and skips every entry before it; so paging through a tree costs about
// one walk of it in all, whatever the page size, and nothing is kept between pages (a file added
// meanwhile shows up on the next page that reaches it).
//
// Continuation tokens: "k" + hex(key) (continue after this key) or "s" + hex(prefix) (continue
// after every key under this common prefix).
#include <algorithm>

#include "libstore/plain/key_map.h"
#include "libstore/plain/plain_dir.h"
#include "libstore/plain/plain_internal.h"

namespace cairn {
namespace {

bool StartsWith(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.compare(0, p.size(), p) == 0;
}

std::string EncodeToken(const std::string& key, bool skip) {
  static const char kHex[] = "0123456789abcdef";
  std::string t(1, skip ? 's' : 'k');
  for (unsigned char c : key) {
    t += kHex[c >> 4];
    t += kHex[c & 15];
  }
  return t;
}

bool DecodeToken(const std::string& t, std::string* key, bool* skip) {
  if (t.empty() || (t[0] != 'k' && t[0] != 's') || t.size() % 2 != 1) return false;
  if (t.size() > 1 + 2 * kPlainMaxKeyLen) return false;
  *skip = t[0] == 's';
  key->clear();
  auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (size_t i = 1; i < t.size(); i += 2) {
    int hi = nib(t[i]), lo = nib(t[i + 1]);
    if (hi < 0 || lo < 0) return false;
    *key += char(hi << 4 | lo);
  }
  return true;
}

}  // namespace

// The walk's state, held by PlainDir::Lister (a class of the header): named, not file-local, as a
// field of an anonymous-namespace type there is a -Wsubobject-linkage error in a unity batch.
namespace plain_list_internal {

struct Entry {
  std::string sort_name;  // the name, with '/' appended for a directory
  FileInfo info;
};

struct Frame {
  std::string dir_path;    // the directory on the volume: "bkt" or "bkt/a/b"
  std::string key_prefix;  // the keys beneath it start with this: "" or "a/b/"
  std::vector<Entry> entries;
  size_t next = 0;
  bool raw_empty = true;  // the directory holds nothing at all (not even a symlink)
};

}  // namespace plain_list_internal

namespace {

using plain_list_internal::Entry;
using plain_list_internal::Frame;

struct Item {
  std::string key;  // for a directory, its key prefix ("a/b/")
  FileInfo info;
  std::string path;  // on the volume
  bool dir = false;
};

}  // namespace

class PlainDir::Lister {
 public:
  explicit Lister(Volume* vol) : vol_(vol) {}

  // Loads the directory dir_path (keys key_prefix...), keeping entries whose name starts with
  // name_filter. An absent directory is an empty one.
  Status Push(const std::string& dir_path, const std::string& key_prefix,
              std::string_view name_filter = {}) {
    Frame f;
    f.dir_path = dir_path;
    f.key_prefix = key_prefix;
    auto list = vol_->ListDirStat(dir_path);
    if (!list.ok() && !plain::IsAbsent(list.status())) return list.status();
    if (list.ok()) {
      f.raw_empty = list->empty();
      for (auto& e : *list) {
        if (e.info.kind != FileKind::kFile && e.info.kind != FileKind::kDir) continue;
        if (!StartsWith(e.name, name_filter)) continue;
        if (e.info.kind == FileKind::kDir) e.name += '/';
        f.entries.push_back(Entry{std::move(e.name), e.info});
      }
      std::sort(f.entries.begin(), f.entries.end(),
                [](const Entry& a, const Entry& b) { return a.sort_name < b.sort_name; });
    }
    stack_.push_back(std::move(f));
    return Status::Ok();
  }

  // Positions the walk on the first key after `after` (skip: after every key that starts with
  // `after`), listing only the directories on the way down.
  Status Seek(const std::string& after, bool skip) {
    while (!stack_.empty()) {
      Frame& f = stack_.back();
      bool descended = false;
      for (; f.next < f.entries.size(); ++f.next) {
        const Entry& e = f.entries[f.next];
        const std::string full = f.key_prefix + e.sort_name;
        const bool dir = e.info.kind == FileKind::kDir;
        if (skip && StartsWith(full, after)) continue;
        if (dir && StartsWith(after, full)) {
          // `after` lies inside this directory: go down; its own key (the marker) is not after.
          ++f.next;
          std::string path = f.dir_path + "/" + e.sort_name.substr(0, e.sort_name.size() - 1);
          RETURN_IF_ERROR(Push(path, full));
          descended = true;
          break;
        }
        if (full > after) return Status::Ok();
      }
      if (!descended) return Status::Ok();  // f is positioned at its end: nothing here
    }
    return Status::Ok();
  }

  // The next entry in key order, or false at the end.
  bool Next(Item* it) {
    while (!stack_.empty()) {
      Frame& f = stack_.back();
      if (f.next == f.entries.size()) {
        stack_.pop_back();
        continue;
      }
      const Entry& e = f.entries[f.next++];
      it->dir = e.info.kind == FileKind::kDir;
      it->key = f.key_prefix + e.sort_name;
      it->info = e.info;
      it->path = f.dir_path + "/" +
                 (it->dir ? e.sort_name.substr(0, e.sort_name.size() - 1) : e.sort_name);
      return true;
    }
    return false;
  }

  // Leaves out every key that starts with cp (a common prefix just returned).
  void SkipPast(const std::string& cp) {
    while (!stack_.empty() && StartsWith(stack_.back().key_prefix, cp)) stack_.pop_back();
    if (stack_.empty()) return;
    Frame& f = stack_.back();
    while (f.next < f.entries.size() &&
           StartsWith(f.key_prefix + f.entries[f.next].sort_name, cp)) {
      ++f.next;
    }
  }

  // Whether the directory just pushed holds nothing.
  bool TopEmpty() const { return !stack_.empty() && stack_.back().raw_empty; }

 private:
  Volume* vol_;
  std::vector<Frame> stack_;
};

Result<ListResult> PlainDir::ListObjects(const std::string& bucket, const ListOptions& opts) {
  RETURN_IF_ERROR(CheckBucket(bucket));
  if (opts.max_keys < 1 || opts.max_keys > 1000) {
    return InvalidArgument("max-keys must be 1 to 1000, not " + std::to_string(opts.max_keys));
  }
  std::string after = opts.start_after;
  bool skip = false;
  if (!opts.continuation_token.empty() && !DecodeToken(opts.continuation_token, &after, &skip)) {
    return InvalidArgument("continuation token is not one this store made");
  }
  ListResult out;
  const std::string& prefix = opts.prefix;
  const std::string& delim = opts.delimiter;
  // The directory the prefix names, and the start of names in it that can match.
  const size_t slash = prefix.rfind('/');
  const std::string start_keys = slash == std::string::npos ? "" : prefix.substr(0, slash + 1);
  if (!start_keys.empty() && !ValidatePlainKey(start_keys).ok()) return out;  // no key can match
  const std::string start_path =
      start_keys.empty() ? bucket : bucket + "/" + start_keys.substr(0, start_keys.size() - 1);

  int count = 0;
  std::string last;
  bool last_skip = false;
  auto full = [&] { return count >= opts.max_keys; };
  auto after_cursor = [&](const std::string& key) {
    return key > after && !(skip && StartsWith(key, after));
  };

  // The prefix's own directory is the first key under it when it is a folder marker.
  if (!start_keys.empty() && start_keys == prefix && after_cursor(prefix)) {
    auto st = vol_->Stat(start_path);
    if (st.ok() && st->kind == FileKind::kDir) {
      ASSIGN_OR_RETURN(bool marker, IsMarkerDir(bucket, prefix, start_path, *st));
      if (marker) {
        ASSIGN_OR_RETURN(ObjectInfo info, Describe(bucket, prefix, *st));
        out.objects.push_back(std::move(info));
        ++count;
        last = prefix;
      }
    }
  }

  Lister lister(vol_);
  RETURN_IF_ERROR(
      lister.Push(start_path, start_keys, std::string_view(prefix).substr(start_keys.size())));
  if (!after.empty()) RETURN_IF_ERROR(lister.Seek(after, skip));
  Item it;
  while (lister.Next(&it)) {
    if (full()) {
      out.truncated = true;
      break;
    }
    if (!delim.empty()) {
      size_t pos = it.key.find(delim, prefix.size());
      if (pos != std::string::npos) {
        std::string cp = it.key.substr(0, pos + delim.size());
        out.common_prefixes.push_back(cp);
        ++count;
        lister.SkipPast(cp);
        last = std::move(cp);
        last_skip = true;
        continue;
      }
    }
    if (it.dir) {
      RETURN_IF_ERROR(lister.Push(it.path, it.key));
      bool marker = lister.TopEmpty();
      if (!marker) {
        ASSIGN_OR_RETURN(auto rec, meta_->Get(bucket, it.key, FileStamp::Of(it.info)));
        marker = rec.has_value();
      }
      if (!marker) continue;
    }
    ASSIGN_OR_RETURN(ObjectInfo info, Describe(bucket, it.key, it.info));
    out.objects.push_back(std::move(info));
    ++count;
    last = it.key;
    last_skip = false;
  }
  if (out.truncated) out.next_token = EncodeToken(last, last_skip);
  return out;
}

}  // namespace cairn
