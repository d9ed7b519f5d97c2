// Listing: every volume's key tree is walked in key order, and the N sorted streams are merged,
// keeping keys (and common prefixes) present on a read quorum of volumes.
//
// One volume's walk is best-first: a min-heap holds objects and unexpanded directories, each keyed
// by the smallest key it can produce; popping the smallest and expanding it keeps the output in
// UTF-8 byte order even where segments were cut into chunks. Memory is bounded by the directories
// on the frontier, not by the number of keys in the bucket.
#include <algorithm>
#include <memory>
#include <queue>

#include "libstore/common/hash.h"
#include "libstore/format/key_path.h"
#include "libstore/object/erasure_set.h"
#include "libstore/object/list_token.h"

namespace cairn {
namespace {

struct Bounds {
  std::string prefix;
  std::string delimiter;
  std::string marker;          // skip keys <= marker
  bool marker_is_prefix = false;  // also skip keys starting with marker
};

bool StartsWith(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.compare(0, p.size(), p) == 0;
}

struct Item {
  // An object's key, a common prefix, or for a directory not yet walked the text every key below
  // it starts with (so also the smallest key it can hold).
  std::string text;
  std::string path;    // nodes: the directory, relative to the volume root
  enum Kind { kObject, kPrefix, kNode } kind;
};

struct ItemGreater {
  bool operator()(const Item& a, const Item& b) const {
    if (a.text != b.text) return a.text > b.text;
    return a.kind > b.kind;
  }
};

class VolumeLister {
 public:
  // foreign (may be null) hears of every symlink or other non-file met while expanding.
  VolumeLister(Volume* v, uint32_t pos, const std::string& bucket, const Bounds& b,
               const ForeignEntryFn* foreign)
      : v_(v), pos_(pos), bucket_(bucket), b_(b), foreign_(foreign) {
    heap_.push(Item{"", bucket, Item::kNode});
  }

  const Status& status() const { return status_; }

  // The next object or common prefix in order; false at the end or on error.
  bool Next(Item* out) {
    while (!heap_.empty()) {
      Item it = heap_.top();
      heap_.pop();
      if (Pruned(it)) continue;
      if (it.kind == Item::kNode) {
        if (RollUp(it)) {
          *out = std::move(it);
          return true;
        }
        Expand(it);
        if (!status_.ok()) return false;
        continue;
      }
      if (it.kind == Item::kObject) {
        std::string cp = CommonPrefix(it.text);
        if (!cp.empty()) {
          skip_ = cp;
          *out = Item{cp, "", Item::kPrefix};
          return true;
        }
      }
      *out = std::move(it);
      return true;
    }
    return false;
  }

 private:
  // The common prefix a key rolls up into, or "" if none.
  std::string CommonPrefix(const std::string& key) const {
    if (b_.delimiter.empty() || !StartsWith(key, b_.prefix)) return "";
    size_t pos = key.find(b_.delimiter, b_.prefix.size());
    if (pos == std::string::npos) return "";
    return key.substr(0, pos + b_.delimiter.size());
  }

  // True when nothing under `it` can be listed.
  bool Pruned(const Item& it) const {
    const std::string& x = it.text;
    if (!skip_.empty() && StartsWith(x, skip_)) return true;
    if (!StartsWith(x, b_.prefix) && (it.kind != Item::kNode || !StartsWith(b_.prefix, x))) {
      return true;
    }
    if (b_.marker_is_prefix && StartsWith(x, b_.marker)) return true;
    if (it.kind != Item::kNode) return x <= b_.marker;
    // A node produces keys starting with x: all are below the marker if x < marker and x is not a
    // prefix of it.
    return x < b_.marker && !StartsWith(b_.marker, x);
  }

  // A directory whose every key shares one common prefix is reported as that prefix without being
  // walked, once we know it holds at least one object.
  bool RollUp(Item& it) {
    if (b_.delimiter.empty() || it.path == bucket_ || !StartsWith(it.text, b_.prefix)) return false;
    std::string cp = CommonPrefix(it.text);
    if (cp.empty() || cp.size() > it.text.size()) return false;
    if (!HasObject(it.path)) return false;
    // With a plain start-after inside this prefix, only keys past it count: walk it instead.
    if (cp <= b_.marker) return false;
    skip_ = cp;
    it = Item{cp, "", Item::kPrefix};
    return true;
  }

  bool HasObject(const std::string& path) {
    auto entries = v_->ListDir(path);
    if (!entries.ok()) return false;
    std::string text;
    KeyEntry kind;
    for (const auto& e : *entries) {
      if (e.kind == FileKind::kFile && DecodeKeyEntry(e.name, &text, &kind) && kind == KeyEntry::kObject) return true;
    }
    for (const auto& e : *entries) {
      if (e.is_dir() && DecodeKeyEntry(e.name, &text, &kind) && kind != KeyEntry::kObject &&
          HasObject(path + "/" + e.name)) {
        return true;
      }
    }
    return false;
  }

  void Expand(const Item& node) {
    auto entries = v_->ListDir(node.path);
    if (!entries.ok()) {
      // A directory removed by a concurrent delete has nothing left to list.
      if (entries.status().code() != Code::kNotFound) status_ = entries.status();
      return;
    }
    std::string text;
    KeyEntry kind;
    for (const auto& e : *entries) {
      // A symlink or other non-file is never cairn's (LocalVolume would not follow it anyway):
      // reported when it lies in the scope, never listed.
      const bool foreign = e.kind == FileKind::kSymlink || e.kind == FileKind::kOther;
      if (!DecodeKeyEntry(e.name, &text, &kind)) {
        if (foreign) Foreign(node.path + "/" + e.name, e.kind);
        continue;
      }
      Item child;
      if (kind == KeyEntry::kObject) {
        if (e.is_dir()) continue;
        child = Item{node.text + text, "", Item::kObject};
      } else {
        if (!e.is_dir() && !foreign) continue;
        child = Item{node.text + text + (kind == KeyEntry::kSegment ? "/" : ""),
                     node.path + "/" + e.name, Item::kNode};
      }
      if (foreign) {
        if (!Pruned(child)) Foreign(node.path + "/" + e.name, e.kind);
        continue;
      }
      if (!Pruned(child)) heap_.push(std::move(child));
    }
  }

  void Foreign(const std::string& path, FileKind kind) {
    if (foreign_ != nullptr && *foreign_) (*foreign_)(ForeignEntry{pos_, path, kind});
  }

  Volume* v_;
  uint32_t pos_;
  const std::string& bucket_;
  const Bounds& b_;
  const ForeignEntryFn* foreign_;
  std::string skip_;  // a common prefix already reported
  std::priority_queue<Item, std::vector<Item>, ItemGreater> heap_;
  Status status_;
};

// The listings of every online volume merged: Next yields each object or common prefix once,
// in order, with the number of volumes that have it.
class MergedListing {
 public:
  MergedListing(const std::vector<Volume*>& volumes, const std::string& bucket, const Bounds& b,
                const ForeignEntryFn* foreign = nullptr) {
    for (uint32_t pos = 0; pos < volumes.size(); ++pos) {
      Volume* v = volumes[pos];
      if (v == nullptr) continue;
      listers_.push_back(std::make_unique<VolumeLister>(v, pos, bucket, b, foreign));
      heads_.emplace_back();
      live_.push_back(listers_.back()->Next(&heads_.back()));
      if (status_.ok()) status_ = listers_.back()->status();
    }
  }

  // False at the end or on error (then status() says which).
  bool Next(Item* out, uint32_t* count) {
    if (!status_.ok()) return false;
    int min = -1;
    for (size_t i = 0; i < heads_.size(); ++i) {
      if (live_[i] && (min < 0 || ItemGreater()(heads_[min], heads_[i]))) min = int(i);
    }
    if (min < 0) return false;
    *out = heads_[min];
    *count = 0;
    for (size_t i = 0; i < heads_.size(); ++i) {
      if (!live_[i] || heads_[i].text != out->text || heads_[i].kind != out->kind) continue;
      ++*count;
      live_[i] = listers_[i]->Next(&heads_[i]);
      if (!listers_[i]->status().ok()) {
        status_ = listers_[i]->status();
        return false;
      }
    }
    return true;
  }

  const Status& status() const { return status_; }

 private:
  std::vector<std::unique_ptr<VolumeLister>> listers_;
  std::vector<Item> heads_;
  std::vector<bool> live_;
  Status status_;
};

}  // namespace

Result<ListResult> ErasureSet::ListObjects(const std::string& bucket, const ListOptions& opts) {
  RETURN_IF_ERROR(ValidateBucketName(bucket));
  RETURN_IF_ERROR(CheckBucket(bucket));
  if (opts.max_keys < 0) return InvalidArgument("max-keys must not be negative");
  Bounds b;
  b.prefix = opts.prefix;
  b.delimiter = opts.delimiter;
  b.marker = opts.start_after;
  if (!opts.continuation_token.empty()) {
    ListToken t;
    if (!DecodeListToken(opts.continuation_token, &t)) {
      return InvalidArgument("invalid continuation token");
    }
    b.marker = std::move(t.marker);
    b.marker_is_prefix = t.is_prefix;
  }
  const int max_keys = std::min(opts.max_keys, 1000);
  if (max_keys == 0) return ListResult{};  // S3: an empty page, not truncated

  MergedListing merged(volumes_, bucket, b);
  ListResult out;
  Item last;
  bool have_last = false;
  Item cur;
  uint32_t count;
  while (merged.Next(&cur, &count)) {
    if (count < read_quorum_) continue;
    // No valid key is empty or longer than kMaxKeyLen, nor is any common prefix of one: such an
    // entry was planted, and a page ending on it would hand out a token DecodeListToken refuses.
    if (!ValidateKey(cur.text).ok()) continue;
    if (int(out.objects.size() + out.common_prefixes.size()) >= max_keys) {
      out.truncated = true;
      break;
    }
    if (cur.kind == Item::kPrefix) {
      out.common_prefixes.push_back(cur.text);
    } else {
      // The version a GET would see (delete markers are not objects; copies caught half way
      // through another process's commit are read again under the key's lock).
      std::vector<MetaRead> metas;
      auto pick = ReadVersion(bucket, cur.text, &metas);
      if (!pick.ok()) continue;  // deleted meanwhile, or unreadable: verify/heal report it
      out.objects.push_back(InfoFrom(bucket, metas[*pick].meta));
    }
    last = cur;
    have_last = true;
  }
  RETURN_IF_ERROR(merged.status());
  if (out.truncated && have_last) {
    out.next_token = EncodeListToken(ListToken{last.text, last.kind == Item::kPrefix});
  }
  return out;
}

Status ErasureSet::ScanKeys(const std::string& bucket, const std::string& prefix,
                            const std::string& start_after,
                            const std::function<bool(const std::string& key)>& fn,
                            const ForeignEntryFn& foreign) {
  RETURN_IF_ERROR(ValidateBucketName(bucket));
  Bounds b;
  b.prefix = prefix;
  b.marker = start_after;
  MergedListing merged(volumes_, bucket, b, &foreign);
  Item cur;
  uint32_t count;
  while (merged.Next(&cur, &count)) {
    if (!fn(cur.text)) return Status::Ok();
  }
  return merged.status();
}

}  // namespace cairn
