// Garbage collection: what no object needs and that is past a grace period, on every online volume.
//
// Four kinds (docs/format.md): entries of .cairn/tmp (temp files of writes and heals that died,
// spare files of a killed process, trash directories of a bucket removal that crashed); shard
// files no metadata copy on any volume names; key directories left empty; and MRF journal entries
// whose version is gone, or that cannot be decoded at all.
//
// Everything is decided from one directory listing at a time, so memory is bounded by the largest
// directory (the MRF journal counts as one), not by the number of objects. The grace period is
// what keeps gc off live work: a temp file being written, a shard renamed into place just before
// its metadata, a directory just made for a new key all have a fresh mtime. Orphan shards are also
// re-checked and removed under the key's write lock, which every commit and heal holds while it
// attaches a shard, so a shard cannot gain its metadata between the check and the removal.
#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include "libstore/format/key_path.h"
#include "libstore/format/mrf_entry.h"
#include "libstore/format/upload_record.h"
#include "libstore/format/volume_format.h"
#include "libstore/object/erasure_set.h"
#include "libstore/object/erasure_set_internal.h"
#include "libstore/object/key_locks.h"

namespace cairn {
namespace {

constexpr size_t kDataIdHexLen = 32;  // Uuid::Hex()

// One run: its options, the cutoff time, and the report so far.
class GcRun {
 public:
  GcRun(const GcOptions& o, int64_t now_ns, const std::function<void(const GcItem&)>& fn)
      : dry_run_(o.dry_run),
        cutoff_ns_(now_ns - o.older_than_ns),
        released_cutoff_ns_(now_ns - (o.released_older_than_ns < 0 ? o.older_than_ns
                                                                    : o.released_older_than_ns)),
        fn_(fn) {}

  bool dry_run() const { return dry_run_; }
  // True when something last changed at t_ns is past the grace period.
  bool Old(int64_t t_ns) const { return t_ns < cutoff_ns_; }
  // True when an upload marked released at t_ns is past its (shorter) grace period.
  bool OldRelease(int64_t t_ns) const { return t_ns < released_cutoff_ns_; }

  void Item(uint32_t pos, const std::string& path, GcKind what, uint64_t bytes) {
    GcItem it;
    it.position = pos;
    it.path = path;
    it.what = what;
    it.bytes = bytes;
    ++report_.items;
    report_.bytes += bytes;
    if (fn_) fn_(it);
  }

  // One line, "<volume>/<path>: <message>"; a volume's own messages mostly start with that already.
  void Error(const Volume* v, const std::string& path, const Status& s) {
    const std::string where = path.empty() ? v->Describe() : v->Describe() + "/" + path;
    const std::string& m = s.message();
    report_.errors.push_back(m.compare(0, where.size(), where) == 0 ? m : where + ": " + m);
  }

  GcReport Take() { return std::move(report_); }

 private:
  const bool dry_run_;
  const int64_t cutoff_ns_;
  const int64_t released_cutoff_ns_;
  const std::function<void(const GcItem&)>& fn_;
  GcReport report_;
};

// Adds the sizes of the files below dir to *bytes. What vanishes meanwhile counts as nothing.
Status AddTreeBytes(Volume* v, const std::string& dir, uint64_t* bytes) {
  auto entries = v->ListDir(dir);
  if (!entries.ok()) {
    return entries.status().code() == Code::kNotFound ? Status::Ok() : entries.status();
  }
  for (const auto& e : *entries) {
    const std::string path = dir + "/" + e.name;
    if (e.is_dir()) {
      RETURN_IF_ERROR(AddTreeBytes(v, path, bytes));
      continue;
    }
    auto st = v->Stat(path);
    if (st.ok()) {
      *bytes += st->size;
    } else if (st.status().code() != Code::kNotFound) {
      return st.status();
    }
  }
  return Status::Ok();
}

// Every entry of .cairn/tmp past the grace period. Nothing there is part of an object. A spare
// file of a live process may be among them (its mtime is that of the metadata it superseded):
// removing it is harmless, because the PUT that takes it next rewrites it with OverwriteFile,
// which creates a missing file (O_CREAT in LocalVolume; MemVolume and FaultyVolume go through
// WriteFile, which creates too), and a trash directory still being emptied by RemoveBucket is at
// worst emptied by both.
void CollectTemp(GcRun& run, uint32_t pos, Volume* v) {
  auto entries = v->ListDir(kTmpDir);
  if (!entries.ok()) {
    if (entries.status().code() != Code::kNotFound) run.Error(v, kTmpDir, entries.status());
    return;
  }
  for (const auto& e : *entries) {
    const std::string path = std::string(kTmpDir) + "/" + e.name;
    auto st = v->Stat(path);
    if (!st.ok()) {
      // Gone: its writer finished (renamed it into place) or removed it.
      if (st.status().code() != Code::kNotFound) run.Error(v, path, st.status());
      continue;
    }
    if (!run.Old(st->mtime_ns)) continue;
    uint64_t bytes = st->is_dir() ? 0 : st->size;
    if (st->is_dir()) {
      Status s = AddTreeBytes(v, path, &bytes);
      if (!s.ok()) {
        run.Error(v, path, s);
        continue;
      }
    }
    if (!run.dry_run()) {
      Status s = st->is_dir() ? v->RemoveAll(path) : v->Remove(path);
      if (s.code() == Code::kNotFound) continue;
      if (!s.ok()) {
        run.Error(v, path, s);
        continue;
      }
    }
    run.Item(pos, path, GcKind::kTemp, bytes);
  }
}

// For a shard file name, `<seg>=` followed by 32 lowercase hex digits: the name of the metadata
// file beside it and the hex. False for every other name (metadata files end in '=').
bool SplitShardName(const std::string& name, std::string* meta_name, std::string* hex) {
  if (name.size() <= kDataIdHexLen) return false;
  const size_t split = name.size() - kDataIdHexLen;
  if (name[split - 1] != '=') return false;
  for (size_t i = split; i < name.size(); ++i) {
    char c = name[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  *meta_name = name.substr(0, split);
  *hex = name.substr(split);
  return true;
}

// For the name of a copy beside a metadata file, `<seg>=.prev` (ObjectPaths::DisplacedPath):
// the name of the metadata file. False for every other name.
bool SplitDisplacedName(const std::string& name, std::string* meta_name) {
  const std::string_view suffix = ObjectPaths::kDisplacedSuffix;
  if (name.size() <= suffix.size() ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
    return false;
  }
  *meta_name = name.substr(0, name.size() - suffix.size());
  return meta_name->back() == '=';
}

// Decides, under the key's lock, whether the copy beside a metadata file (`meta` + ".prev") on
// volume pos is no longer needed (the key has a version on a read quorum of metadata files, or
// none at all), and (not dry run) removes it. True when it was, or would be, removed. (A later
// overwrite makes it again: gc only takes those of keys left alone for its grace period.)
using DisplacedCheck = std::function<bool(uint32_t pos, const std::string& bucket,
                                          const std::string& key, const std::string& path)>;

// Decides, under the key's lock, whether the shard file `meta + hex` on volume pos is one that no
// metadata copy names, and (not dry run) removes it. True when it was, or would be, removed.
using OrphanCheck =
    std::function<bool(uint32_t pos, const std::string& bucket, const std::string& key,
                       const std::string& meta, const std::string& hex)>;

// One volume's key tree of one bucket, depth first: orphan shards, then the key directories that
// leaves empty, deepest first, so a chain of empty directories goes in one run.
class KeyTreeGc {
 public:
  KeyTreeGc(GcRun& run, uint32_t pos, Volume* v, const std::string& bucket,
            const OrphanCheck& orphan, const DisplacedCheck& displaced)
      : run_(run), pos_(pos), v_(v), bucket_(bucket), orphan_(orphan), displaced_(displaced) {}

  // Walks dir, every key below which starts with prefix. True when nothing is left in it (dry
  // run: would be left). Only key directories and shard files are touched; anything else in the
  // tree is left alone and keeps its directory.
  bool Walk(const std::string& dir, const std::string& prefix) {
    auto entries = v_->ListDir(dir);
    if (!entries.ok()) {
      // Gone: a DELETE removed the emptied directory meanwhile.
      if (entries.status().code() != Code::kNotFound) run_.Error(v_, dir, entries.status());
      return false;
    }
    size_t left = entries->size();
    std::string text, meta_name, hex;
    KeyEntry kind;
    for (const auto& e : *entries) {
      const std::string path = dir + "/" + e.name;
      if (e.is_dir()) {
        if (DecodeKeyEntry(e.name, &text, &kind) && kind != KeyEntry::kObject &&
            Subdir(path, prefix + text + (kind == KeyEntry::kSegment ? "/" : ""))) {
          --left;
        }
      } else if (SplitShardName(e.name, &meta_name, &hex) &&
                 DecodeKeyEntry(meta_name, &text, &kind) &&
                 Shard(path, dir + "/" + meta_name, prefix + text, hex)) {
        --left;
      } else if (SplitDisplacedName(e.name, &meta_name) &&
                 DecodeKeyEntry(meta_name, &text, &kind) && kind == KeyEntry::kObject &&
                 Displaced(path, dir + "/" + meta_name, prefix + text)) {
        --left;
      }
    }
    return left == 0;
  }

 private:
  // A key directory: walked, then removed if that left it empty. True when removed.
  bool Subdir(const std::string& path, const std::string& prefix) {
    // The mtime from before the walk: removing entries below changes it, which would keep a
    // directory emptied in this run for the next one.
    auto st = v_->Stat(path);
    if (!st.ok()) {
      if (st.status().code() != Code::kNotFound) run_.Error(v_, path, st.status());
      return false;
    }
    if (!Walk(path, prefix) || !run_.Old(st->mtime_ns)) return false;
    if (!run_.dry_run()) {
      // Not empty: a PUT put a key in it meanwhile. Gone: a DELETE removed it. Both are fine; a
      // commit that finds its directory gone makes it again.
      Status s = v_->RemoveDir(path);
      if (!s.ok()) {
        if (s.code() != Code::kNotEmpty && s.code() != Code::kNotFound) run_.Error(v_, path, s);
        return false;
      }
    }
    run_.Item(pos_, path, GcKind::kEmptyDir, 0);
    return true;
  }

  // A shard file of `key`: removed if past the grace period and no metadata copy names it.
  bool Shard(const std::string& path, const std::string& meta, const std::string& key,
             const std::string& hex) {
    // A name KeyPaths would not produce (say, a lower-case escape) belongs to no key we could
    // lock and no writer ever attaches anything to: not ours to judge, left alone.
    if (!ValidateKey(key).ok() || KeyPaths(bucket_, key).meta != meta) return false;
    auto st = v_->Stat(path);
    if (!st.ok()) {
      if (st.status().code() != Code::kNotFound) run_.Error(v_, path, st.status());
      return false;
    }
    if (!run_.Old(st->mtime_ns) || !orphan_(pos_, bucket_, key, meta, hex)) return false;
    run_.Item(pos_, path, GcKind::kOrphanShard, st->size);
    return true;
  }

  // A displaced copy of `key`: removed if past the grace period and no longer needed.
  bool Displaced(const std::string& path, const std::string& meta, const std::string& key) {
    if (!ValidateKey(key).ok() || KeyPaths(bucket_, key).meta != meta) return false;
    auto st = v_->Stat(path);
    if (!st.ok()) {
      if (st.status().code() != Code::kNotFound) run_.Error(v_, path, st.status());
      return false;
    }
    if (!run_.Old(st->mtime_ns) || !displaced_(pos_, bucket_, key, path)) return false;
    run_.Item(pos_, path, GcKind::kDisplaced, st->size);
    return true;
  }

  GcRun& run_;
  const uint32_t pos_;
  Volume* const v_;
  const std::string& bucket_;
  const OrphanCheck& orphan_;
  const DisplacedCheck& displaced_;
};

// The MRF journal, merged by id across volumes: an entry whose version is gone (`gone` says), or
// that no volume's copy decodes, is removed from every volume and reported once, with the bytes of
// all its copies. (Not RemoveMrf: that drops errors, and gc reports them.)
void CollectMrf(GcRun& run, const std::vector<Volume*>& vols,
                const std::function<bool(const MrfEntry&)>& gone) {
  std::map<std::string, uint32_t> first;  // id -> first position listing it
  for (uint32_t pos = 0; pos < vols.size(); ++pos) {
    if (vols[pos] == nullptr) continue;
    auto entries = vols[pos]->ListDir(kMrfDir);
    if (!entries.ok()) {
      const Status& s = entries.status();
      if (s.code() != Code::kNotFound) run.Error(vols[pos], kMrfDir, s);
      continue;
    }
    for (const auto& e : *entries) {
      if (!e.is_dir()) first.emplace(e.name, pos);
    }
  }
  for (const auto& [id, pos0] : first) {
    const std::string path = std::string(kMrfDir) + "/" + id;
    std::vector<std::pair<uint32_t, uint64_t>> copies;  // position, bytes
    Result<MrfEntry> e = Corruption("not read");
    bool decoded = false, unreadable = false;
    int64_t newest_ns = 0;
    for (uint32_t pos = pos0; pos < vols.size(); ++pos) {
      Volume* v = vols[pos];
      if (v == nullptr) continue;
      auto st = v->Stat(path);
      if (!st.ok()) {
        if (st.status().code() != Code::kNotFound) {
          run.Error(v, path, st.status());
          unreadable = true;
        }
        continue;
      }
      if (st->is_dir()) continue;
      copies.emplace_back(pos, st->size);
      newest_ns = std::max(newest_ns, st->mtime_ns);
      if (decoded) continue;
      auto raw = v->ReadFile(path, kMaxMrfFileSize);
      if (raw.ok()) {
        e = MrfEntry::Decode(*raw);
        decoded = e.ok();
      } else if (raw.status().error_class() == ErrorClass::kUnavailable ||
                 raw.status().error_class() == ErrorClass::kBug) {
        run.Error(v, path, raw.status());
        unreadable = true;
      }
    }
    std::optional<GcKind> what;
    if (decoded) {
      if (!run.Old(e->time_ns)) continue;
      // An entry naming no possible object is as useless to heal as an unreadable one.
      if (!ValidateBucketName(e->bucket).ok() || !ValidateKey(e->key).ok()) {
        what = GcKind::kBadMrf;
      } else if (gone(*e)) {
        what = GcKind::kStaleMrf;
      }
    } else if (!unreadable && run.Old(newest_ns)) {
      // Unreadable only counts as bad when every copy was read and none decodes; an I/O error
      // may hide a good copy.
      what = GcKind::kBadMrf;
    }
    if (!what || copies.empty()) continue;
    uint64_t bytes = 0;
    bool removed = false;
    for (const auto& [pos, size] : copies) {
      Status s = run.dry_run() ? Status::Ok() : vols[pos]->Remove(path);
      if (s.ok()) {
        bytes += size;
        removed = true;
      } else if (s.code() != Code::kNotFound) {
        run.Error(vols[pos], path, s);
      }
    }
    if (removed) run.Item(copies.front().first, path, *what, bytes);
  }
}

// What to do with one upload's staging directory (.cairn/multipart/<id>), decided across members.
using UploadCheck = std::function<bool(const Uuid& id)>;

// The staging directories of multipart uploads: those `keep` does not claim are removed on every
// online member (`keep` decides from every member's records and the key's metadata).
void CollectUploads(GcRun& run, const std::vector<Volume*>& vols, const UploadCheck& remove) {
  std::set<std::string> ids;
  for (Volume* v : vols) {
    if (v == nullptr) continue;
    auto entries = v->ListDir(kMultipartDir);
    if (!entries.ok()) {
      if (entries.status().code() != Code::kNotFound) run.Error(v, kMultipartDir, entries.status());
      continue;
    }
    Uuid id;
    for (const auto& e : *entries) {
      if (e.is_dir() && Uuid::FromHex(e.name, &id)) ids.insert(e.name);
    }
  }
  for (const std::string& hex : ids) {
    Uuid id;
    Uuid::FromHex(hex, &id);
    if (!remove(id)) continue;
    const std::string dir = UploadDir(id);
    for (uint32_t pos = 0; pos < vols.size(); ++pos) {
      Volume* v = vols[pos];
      if (v == nullptr || !v->Stat(dir).ok()) continue;
      uint64_t bytes = 0;
      AddTreeBytes(v, dir, &bytes).IgnoreError();
      Status s = run.dry_run() ? Status::Ok() : v->RemoveAll(dir);
      if (s.ok()) {
        run.Item(pos, dir, GcKind::kUpload, bytes);
      } else {
        run.Error(v, dir, s);
      }
    }
  }
}

}  // namespace

const char* Name(GcKind k) {
  switch (k) {
    case GcKind::kTemp:
      return "temp";
    case GcKind::kOrphanShard:
      return "orphan-shard";
    case GcKind::kEmptyDir:
      return "empty-dir";
    case GcKind::kStaleMrf:
      return "stale-mrf";
    case GcKind::kBadMrf:
      return "bad-mrf";
    case GcKind::kDisplaced:
      return "displaced-copy";
    case GcKind::kUpload:
      return "upload";
  }
  return "?";
}

Result<GcReport> ErasureSet::CollectGarbage(const GcOptions& o,
                                            const std::function<void(const GcItem&)>& fn) {
  if (o.older_than_ns < 0) return InvalidArgument("gc grace period must not be negative");
  GcRun run(o, NowNs(), fn);
  bool kept_offline = false;

  const OrphanCheck orphan = [&](uint32_t pos, const std::string& bucket, const std::string& key,
                                 const std::string& meta, const std::string& hex) {
    Volume* v = volumes_[pos];
    // Almost every shard is named by its own volume's copy: settle that without the lock.
    auto own = v->ReadFile(meta, kMaxMetaFileSize);
    if (own.ok()) {
      auto m = ObjectMeta::Decode(*own);
      if (m.ok() && m->data_id.Hex() == hex) return false;
    }
    // A copy on an offline member might name it: keep it until every member is back.
    if (online() < n()) {
      kept_offline = true;
      return false;
    }
    // Every volume, not just this one: heal re-attaches a shard whose own metadata copy was lost.
    KeyWriteGuard guard(*locks_, Stripe(bucket, key));
    auto metas = ReadAllMeta(meta);
    for (uint32_t i = 0; i < n(); ++i) {
      if (volumes_[i] == nullptr) continue;
      if (metas[i].present) {
        if (metas[i].meta.data_id.Hex() == hex) return false;
        continue;
      }
      // Absent or corrupt copies name nothing; one that could not be read might name this shard.
      if (metas[i].unknown()) {
        run.Error(volumes_[i], meta, metas[i].error);
        return false;
      }
    }
    if (run.dry_run()) return true;
    const std::string shard = meta + hex;
    Status s = v->Remove(shard);
    if (!s.ok() && s.code() != Code::kNotFound) run.Error(v, shard, s);
    return s.ok();
  };

  // A displaced copy is needed only while the key has no version on a read quorum of its
  // metadata files (a commit cut off half way, which readers and heal settle from it).
  const DisplacedCheck displaced = [&](uint32_t pos, const std::string& bucket,
                                       const std::string& key, const std::string& path) {
    KeyWriteGuard guard(*locks_, Stripe(bucket, key));
    auto pick = PickVersion(ReadAllMeta(KeyPaths(bucket, key).meta), bucket + "/" + key);
    if (!pick.ok() && pick.status().code() != Code::kNotFound) return false;
    if (run.dry_run()) return true;
    Status s = volumes_[pos]->Remove(path);
    if (!s.ok() && s.code() != Code::kNotFound) run.Error(volumes_[pos], path, s);
    return s.ok();
  };

  for (uint32_t pos = 0; pos < n() && !o.uploads_only; ++pos) {
    Volume* v = volumes_[pos];
    if (v == nullptr) continue;
    CollectTemp(run, pos, v);
    auto top = v->ListDir("");
    if (!top.ok()) {
      run.Error(v, "", top.status());
      continue;
    }
    for (const auto& e : *top) {
      if (!e.is_dir() || !ValidateBucketName(e.name).ok()) continue;
      // The bucket directory itself stays, however empty: removing buckets is RemoveBucket's job.
      KeyTreeGc(run, pos, v, e.name, orphan, displaced).Walk(e.name, "");
    }
  }

  // An upload's staging directory goes when nobody can still use it: no record on any member
  // (an abort or a create cut short) and older than the grace period; an open upload begun
  // before the grace period (abandoned: never completed nor aborted); a completed one whose
  // object no metadata copy names any more (overwritten or deleted), completed before the grace
  // period, or marked released by the commit that deleted or overwrote it before the release
  // grace period (GcOptions::released_older_than_ns). Anything an object's metadata names stays, and so does everything while a member is
  // offline (its copies might name it). Decided under the upload's lock and then the key's, the
  // order Complete takes them, so a Complete is never caught half way.
  bool kept_uploads = false;
  const UploadCheck upload = [&](const Uuid& id) {
    std::lock_guard<std::mutex> ul(UploadMutex(id));
    std::optional<UploadRecord> rec;
    int64_t newest = INT64_MIN;  // the latest change to the directory or its record
    int64_t released = INT64_MIN;  // the latest release mark (INT64_MIN: none)
    for (Volume* v : volumes_) {
      if (v == nullptr) continue;
      if (auto st = v->Stat(UploadDir(id)); st.ok()) newest = std::max(newest, st->mtime_ns);
      if (auto st = v->Stat(UploadRecordPath(id)); st.ok()) {
        newest = std::max(newest, st->mtime_ns);
      }
      if (auto st = v->Stat(UploadReleasedPath(id)); st.ok()) {
        released = std::max(released, st->mtime_ns);
      }
      auto raw = v->ReadFile(UploadRecordPath(id), kMaxUploadRecordSize);
      if (!raw.ok()) continue;
      auto r = UploadRecord::Decode(*raw);
      if (r.ok() && (!rec || r->state == UploadState::kCompleted)) rec = std::move(r).value();
    }
    const bool released_old =
        released != INT64_MIN && rec && rec->state == UploadState::kCompleted &&
        run.OldRelease(released);
    if (!run.Old(newest) && !released_old) return false;
    if (!rec) return true;
    if (rec->state == UploadState::kOpen && !run.Old(rec->initiated_ns)) return false;
    if (online() < n()) {
      kept_uploads = true;
      return false;
    }
    KeyWriteGuard guard(*locks_, Stripe(rec->bucket, rec->key));
    const ObjectPaths paths = KeyPaths(rec->bucket, rec->key);
    // Released: the previous metadata copy an overwrite keeps beside the file still names the
    // upload, but it is needed only while no other version stands on a read quorum.
    bool superseded = false;
    if (released_old) {
      auto now = ReadAllMeta(paths.meta);
      auto pick = PickVersion(now, rec->bucket + "/" + rec->key);
      superseded = pick.ok() && now[*pick].meta.data_id != id;
    }
    for (const std::string& path : {paths.meta, paths.DisplacedPath()}) {
      if (superseded && path != paths.meta) continue;
      for (const MetaRead& mr : ReadAllMeta(path)) {
        if (mr.present && mr.meta.is_multipart() && mr.meta.data_id == id) return false;
        if (mr.unknown() && mr.error.code() != Code::kNotFound) return false;
      }
    }
    return true;
  };
  CollectUploads(run, volumes_, upload);

  // A version is gone when the object is gone or its current version is another one. Entries of
  // versions that exist but cannot be read on a quorum are kept: heal has to see those.
  auto gone = [&](const MrfEntry& e) {
    std::shared_lock<std::shared_mutex> l(locks_->InProcess(Stripe(e.bucket, e.key)));
    auto metas = ReadAllMeta(KeyPaths(e.bucket, e.key).meta);
    auto pick = PickVersion(metas, e.bucket + "/" + e.key);
    if (!pick.ok()) return pick.status().code() == Code::kNotFound;
    return metas[*pick].meta.version_id != e.version_id;
  };
  if (!o.uploads_only) CollectMrf(run, volumes_, gone);
  GcReport report = run.Take();
  if (kept_offline) {
    report.notes.push_back("shard files without metadata on the online members were kept: a "
                           "member is offline, and its metadata copies may still name them");
  }
  if (kept_uploads) {
    report.notes.push_back("multipart uploads past the grace period were kept: a member is "
                           "offline, and its metadata copies may still name them");
  }
  return report;
}

Result<uint64_t> ErasureSet::AbortStaleUploads(int64_t older_than_ns) {
  GcOptions o;
  o.older_than_ns = older_than_ns;
  o.released_older_than_ns = std::min(older_than_ns, kReleasedUploadGraceNs);
  o.uploads_only = true;
  // One item per member that held the upload's directory: count the uploads.
  std::set<std::string> dirs;
  ASSIGN_OR_RETURN(GcReport report, CollectGarbage(o, [&](const GcItem& item) {
                     if (item.what == GcKind::kUpload) dirs.insert(item.path);
                   }));
  if (!report.errors.empty()) {
    return IOError("removing abandoned uploads: " + report.errors.front() +
                   (report.errors.size() > 1 ? " (and " + std::to_string(report.errors.size() - 1) +
                                                   " more)"
                                             : std::string()));
  }
  return uint64_t(dirs.size());
}

}  // namespace cairn
