// ErasureSet multipart uploads (issue 10). Layout and records: libstore/format/upload_record.h.
//
// Create writes the upload's record into a staging directory on every member. Each UploadPart is
// erasure-coded as it streams, like a PUT, into one shard file per member in that directory; once
// the shard files are durable a part record naming them replaces the previous one of that number
// (a part uploaded twice keeps the last; the older shard files are then removed). Complete checks
// the list, then commits object metadata (version 3) that names the upload and its parts, the one
// step that makes the object visible: no byte of data is read, copied or re-encoded. A crash
// before that commit leaves no object; after it, the whole one. The upload record is then marked
// completed, so later calls answer NoSuchUpload and a retried Complete the same object.
//
// Locking: one in-process mutex per upload (striped) serialises part records, Complete and
// Abort of that upload; the object's commit takes the key's lock as every PUT does, so of two
// uploads of one key the last Complete wins.
#include <algorithm>
#include <optional>
#include <set>
#include <tuple>

#include "libstore/common/group_sync.h"
#include "libstore/common/hash.h"
#include "libstore/erasure/stripe.h"
#include "libstore/format/key_path.h"
#include "libstore/format/upload_record.h"
#include "libstore/format/volume_format.h"
#include "libstore/object/commit.h"
#include "libstore/object/erasure_set.h"
#include "libstore/object/key_locks.h"
#include "libstore/object/multipart.h"

namespace cairn {
namespace {

Status NoSuchUpload(const std::string& id) {
  return Status(Code::kUploadNotFound, "no such upload: " + id);
}

uint8_t MetaChecksumType(ChecksumType t) {
  return t == ChecksumType::kFullObject  ? kMetaChecksumFullObject
         : t == ChecksumType::kComposite ? kMetaChecksumComposite
                                         : 0;
}
ChecksumType TypeFromMeta(uint8_t t) {
  return t == kMetaChecksumFullObject  ? ChecksumType::kFullObject
         : t == kMetaChecksumComposite ? ChecksumType::kComposite
                                       : ChecksumType::kNone;
}

MultipartUpload UploadFrom(const UploadRecord& r, const Uuid& id) {
  MultipartUpload u;
  u.bucket = r.bucket;
  u.key = r.key;
  u.upload_id = id.Hex();
  u.initiated_ns = r.initiated_ns;
  u.checksum_algorithm =
      r.checksum_algorithm == ChecksumAlgorithm::kNone ? "" : Name(r.checksum_algorithm);
  u.checksum_type = TypeFromMeta(r.checksum_type);
  return u;
}

// What identifies a Complete request: its part numbers and ETags, in order.
uint64_t PartListHash(const std::vector<CompletedPart>& parts) {
  std::string s;
  for (const auto& p : parts) {
    s += std::to_string(p.part_number);
    s += ':';
    s += UnquoteEtag(p.etag);
    s += '\n';
  }
  return Xxh3_64(s.data(), s.size());
}

}  // namespace

std::mutex& ErasureSet::UploadMutex(const Uuid& upload) {
  return upload_mu_[upload.b[0] % upload_mu_.size()];
}

Result<UploadRecord> ErasureSet::ReadUpload(const Uuid& id, const std::string& bucket,
                                            const std::string& key) {
  const std::string path = UploadRecordPath(id);
  uint32_t present = 0, unknown = 0;
  std::optional<UploadRecord> open, completed;
  for (uint32_t pos = 0; pos < n(); ++pos) {
    Volume* v = volumes_[pos];
    if (v == nullptr) {
      ++unknown;
      continue;
    }
    auto raw = v->ReadFile(path, kMaxUploadRecordSize);
    if (!raw.ok()) {
      if (raw.status().error_class() != ErrorClass::kAbsent) ++unknown;
      continue;
    }
    auto rec = UploadRecord::Decode(*raw);
    if (!rec.ok()) continue;  // a damaged copy says nothing
    ++present;
    // Completion is final: one completed copy (a crash may have cut the marking short) decides.
    if (rec->state == UploadState::kCompleted) {
      if (!completed) completed = std::move(rec).value();
    } else if (!open) {
      open = std::move(rec).value();
    }
  }
  std::optional<UploadRecord>& got = completed ? completed : open;
  if (!got || (!completed && present < read_quorum_)) {
    if (got && present + unknown >= read_quorum_) {
      return QuorumError("upload " + id.Hex() + ": its record is on " + std::to_string(present) +
                         " volumes, " + std::to_string(read_quorum_) + " needed");
    }
    return NoSuchUpload(id.Hex());
  }
  if (got->bucket != bucket || got->key != key) return NoSuchUpload(id.Hex());
  return *got;
}

Result<PartRecord> ErasureSet::ReadPart(const Uuid& id, uint32_t number,
                                        std::vector<bool>* holders) {
  const std::string path = PartRecordPath(id, number);
  std::vector<std::optional<PartRecord>> recs(n());
  for (uint32_t pos = 0; pos < n(); ++pos) {
    if (volumes_[pos] == nullptr) continue;
    auto raw = volumes_[pos]->ReadFile(path, kMaxPartRecordSize);
    if (!raw.ok()) continue;
    auto rec = PartRecord::Decode(*raw);
    if (rec.ok() && rec->number == number) recs[pos] = std::move(rec).value();
  }
  // The newest part whose record is on at least K members (its data can be decoded); a part
  // replaced while a crash cut the replacement short reads as the one still on K members.
  const PartRecord* best = nullptr;
  for (uint32_t i = 0; i < n(); ++i) {
    if (!recs[i]) continue;
    uint32_t copies = 0;
    for (uint32_t j = 0; j < n(); ++j) copies += recs[j] && recs[j]->SameAs(*recs[i]);
    if (copies < k()) continue;
    if (best == nullptr || std::tie(recs[i]->mod_time_ns, recs[i]->data_id) >
                               std::tie(best->mod_time_ns, best->data_id)) {
      best = &*recs[i];
    }
  }
  // A replacement that a crash cut short can leave the records split between two versions, on
  // fewer than K members each (4+2: three and three). Both versions' shard files are still there
  // (a part's shards are durable before any record names them; the replaced part's go only once
  // the replacement is recorded on the write quorum), so the newest version whose shard files
  // are on K members is the part.
  std::vector<bool> shards;
  if (best == nullptr) {
    std::vector<bool> have(n());
    for (uint32_t i = 0; i < n(); ++i) {
      if (!recs[i] || (best != nullptr && std::tie(recs[i]->mod_time_ns, recs[i]->data_id) <=
                                              std::tie(best->mod_time_ns, best->data_id))) {
        continue;
      }
      uint32_t copies = 0;
      for (uint32_t j = 0; j < n(); ++j) {
        have[j] = volumes_[j] != nullptr &&
                  volumes_[j]->Stat(PartShardPath(id, recs[i]->data_id)).ok();
        copies += have[j];
      }
      if (copies < k()) continue;
      best = &*recs[i];
      shards = have;
    }
  }
  if (best == nullptr) {
    return Status(Code::kInvalidPart, "part " + std::to_string(number) + " of upload " +
                                          id.Hex() + " was not uploaded");
  }
  if (holders != nullptr) {
    holders->assign(n(), false);
    for (uint32_t i = 0; i < n(); ++i) {
      (*holders)[i] = shards.empty() ? recs[i] && recs[i]->SameAs(*best) : bool(shards[i]);
    }
  }
  return *best;
}

bool ErasureSet::CompletedFrom(const std::string& bucket, const std::string& key, const Uuid& id,
                               ObjectInfo* info, const std::vector<CompletedPart>* parts) {
  std::vector<MetaRead> metas;
  auto pick = ReadVersion(bucket, key, &metas);
  if (!pick.ok()) return false;
  const ObjectMeta& m = metas[*pick].meta;
  if (!m.is_multipart() || m.data_id != id) return false;
  if (parts != nullptr) {
    // The same list as the one that made it: part numbers and ETags.
    if (parts->size() != m.parts.size()) return false;
    for (size_t i = 0; i < parts->size(); ++i) {
      if (uint32_t((*parts)[i].part_number) != m.parts[i].number ||
          UnquoteEtag((*parts)[i].etag) != ToHex(m.parts[i].md5.data(), 16)) {
        return false;
      }
    }
  }
  if (info != nullptr) *info = InfoFrom(bucket, m);
  return true;
}

void ErasureSet::WriteUploadRecord(const Uuid& id, const UploadRecord& rec) {
  auto bytes = rec.Encode();
  if (!bytes.ok()) return;
  for (uint32_t pos = 0; pos < n(); ++pos) {
    Volume* v = volumes_[pos];
    if (v == nullptr || !v->Stat(UploadDir(id)).ok()) continue;
    ReplaceFile(*v, UploadRecordPath(id), *bytes, kTmpDir).IgnoreError();
  }
}

Result<MultipartUpload> ErasureSet::CreateMultipartUpload(const std::string& bucket,
                                                          const std::string& key,
                                                          const CreateMultipartOptions& opts) {
  RETURN_IF_ERROR(ValidateBucketName(bucket));
  RETURN_IF_ERROR(ValidateKey(key));
  PutOptions po;
  po.content_type = opts.content_type;
  po.user_meta = opts.user_meta;
  RETURN_IF_ERROR(ValidatePutOptions(po));
  UploadRecord rec;
  rec.bucket = bucket;
  rec.key = key;
  rec.content_type = opts.content_type;
  rec.user_meta = opts.user_meta;
  if (!opts.checksum_algorithm.empty()) {
    ASSIGN_OR_RETURN(rec.checksum_algorithm, ChecksumAlgorithmFromName(opts.checksum_algorithm));
  }
  ASSIGN_OR_RETURN(const ChecksumType type,
                   MultipartChecksumType(rec.checksum_algorithm, opts.checksum_type));
  rec.checksum_type = MetaChecksumType(type);
  RETURN_IF_ERROR(CheckBucket(bucket));
  RETURN_IF_ERROR(CheckWriteQuorum());
  rec.initiated_ns = NowNs();
  ASSIGN_OR_RETURN(std::string bytes, rec.Encode());
  const Uuid id = Uuid::Random();
  uint32_t written = 0;
  Status last;
  for (uint32_t pos = 0; pos < n(); ++pos) {
    Volume* v = volumes_[pos];
    if (v == nullptr) continue;
    Status s = v->MakeDirs(UploadDir(id));
    // The directory's own entry (and .cairn/multipart's, when it was just made) durable too:
    // ReplaceFile syncs only the directory it writes in.
    if (s.ok() && opts.fsync) s = v->SyncDir(kMultipartDir);
    if (s.ok() && opts.fsync) s = v->SyncDir(kSysDir);
    if (s.ok()) s = ReplaceFile(*v, UploadRecordPath(id), bytes, kTmpDir);
    if (s.ok()) {
      ++written;
    } else {
      last = s.WithContext(v->Describe());
    }
  }
  if (written < write_quorum_) {
    for (Volume* v : volumes_) {
      if (v != nullptr) v->RemoveAll(UploadDir(id)).IgnoreError();
    }
    return QuorumError("upload record written on " + std::to_string(written) + " volumes, " +
                           std::to_string(write_quorum_) + " needed",
                       last);
  }
  return UploadFrom(rec, id);
}

Result<PartInfo> ErasureSet::UploadPart(const std::string& bucket, const std::string& key,
                                        const std::string& upload_id, int part_number,
                                        Source& src, const UploadPartOptions& opts) {
  RETURN_IF_ERROR(ValidateBucketName(bucket));
  RETURN_IF_ERROR(ValidateKey(key));
  if (part_number < 1 || part_number > kMaxPartNumber) {
    return InvalidArgument("part number must be an integer between 1 and 10000");
  }
  Uuid id;
  if (!Uuid::FromHex(upload_id, &id)) return NoSuchUpload(upload_id);
  RETURN_IF_ERROR(CheckBucket(bucket));
  ASSIGN_OR_RETURN(UploadRecord rec, ReadUpload(id, bucket, key));
  if (rec.state != UploadState::kOpen) return NoSuchUpload(upload_id);
  RETURN_IF_ERROR(CheckWriteQuorum());

  // The part streams through PUT's pipeline with PUT's checks of what the client promised.
  PutOptions po;
  po.fsync = opts.fsync;
  po.checksum_algorithm = rec.checksum_algorithm;
  if (!opts.content_md5.empty()) {
    ASSIGN_OR_RETURN(po.expected.content_md5, ParseContentMd5(opts.content_md5));
  }
  if (!opts.payload_sha256.empty()) {
    ASSIGN_OR_RETURN(po.expected.payload_sha256, ParsePayloadSha256Hex(opts.payload_sha256));
  }
  if (!opts.checksum_algorithm.empty()) {
    ASSIGN_OR_RETURN(ChecksumAlgorithm a, ChecksumAlgorithmFromName(opts.checksum_algorithm));
    if (rec.checksum_algorithm != ChecksumAlgorithm::kNone && a != rec.checksum_algorithm) {
      return InvalidArgument(std::string("the upload's checksum algorithm is ") +
                             Name(rec.checksum_algorithm) + ", the part sent " + Name(a));
    }
    po.checksum_algorithm = a;  // without one for the upload: checked, not kept
  }
  if (!opts.checksum_value.empty()) {
    if (po.checksum_algorithm == ChecksumAlgorithm::kNone) {
      return InvalidArgument("a part checksum value needs its algorithm");
    }
    ASSIGN_OR_RETURN(po.expected.checksum, ParseChecksum(po.checksum_algorithm, opts.checksum_value));
  }
  const std::string what = bucket + "/" + key + " part " + std::to_string(part_number);
  ObjectMeta layout = BaseMeta(key, 0, po, Rotation(bucket, key));
  const Uuid data = Uuid::Random();
  const std::string shard_path = PartShardPath(id, data);
  StreamedShards body;
  RETURN_IF_ERROR(StreamShards(src, "", po, layout.distribution, shard_path, what, &body));
  auto remove_shards = [&](const std::vector<bool>& which) {
    for (uint32_t pos = 0; pos < n(); ++pos) {
      if (volumes_[pos] != nullptr && which[pos]) volumes_[pos]->Remove(shard_path).IgnoreError();
    }
  };
  const std::vector<bool> all(n(), true);
  PartRecord pr;
  pr.number = uint32_t(part_number);
  pr.size = body.size;
  pr.data_id = data;
  pr.shard_size = StripeLayout{body.size, params_.block_size, params_.k}.shard_size();
  pr.md5 = body.md5;
  if (rec.checksum_algorithm != ChecksumAlgorithm::kNone) pr.checksum = body.checksum;
  pr.mod_time_ns = NowNs();
  const std::string record = pr.Encode();
  const std::string record_path = PartRecordPath(id, pr.number);

  // Each member's record is staged in a temp file beside its closed shard file, and the two are
  // made durable on every member at once (as a PUT's commit does): no record names shards that a
  // crash could lose, and a part costs one parallel flush instead of a file flush, a record flush
  // and a directory flush per member in turn. Only the renames and one directory flush per member
  // run under the upload's lock, which every part of the upload takes.
  const std::string record_tmp = TempName(kTmpDir, ".new");
  std::vector<bool> staged(n(), false);
  uint32_t good = 0;
  Status last;
  auto fail = [&](uint32_t pos, const Status& s) {
    last = s.WithContext(volumes_[pos]->Describe());
    volumes_[pos]->Remove(shard_path).IgnoreError();
    if (staged[pos]) volumes_[pos]->Remove(record_tmp).IgnoreError();
    staged[pos] = false;
  };
  for (uint32_t pos = 0; pos < n(); ++pos) {
    if (!body.files[pos]) continue;
    Status s = body.errs[pos];
    if (body.ok[pos]) {
      s = body.files[pos]->Close();
      if (s.ok()) s = volumes_[pos]->WriteFile(record_tmp, record, /*sync=*/false);
    }
    body.files[pos].reset();
    if (s.ok()) {
      staged[pos] = true;
    } else {
      fail(pos, s);
    }
  }
  if (opts.fsync) {
    std::vector<uint32_t> members;
    for (uint32_t pos = 0; pos < n(); ++pos) {
      if (staged[pos]) members.push_back(pos);
    }
    // Two flushes a member: its shard file (index 2i) and its record's temp file (2i + 1).
    std::vector<Status> flushed(members.size() * 2);
    FlushInParallel(flushed.size(), [&](size_t i) {
      Volume& v = *volumes_[members[i / 2]];
      flushed[i] = v.SyncFile(i % 2 == 0 ? shard_path : record_tmp);
      return flushed[i];
    }).IgnoreError();  // each member's outcome is read from flushed below
    for (size_t i = 0; i < members.size(); ++i) {
      const Status& s = !flushed[2 * i].ok() ? flushed[2 * i] : flushed[2 * i + 1];
      if (!s.ok()) fail(members[i], s);
    }
  }
  for (uint32_t pos = 0; pos < n(); ++pos) good += staged[pos];
  auto remove_staged = [&] {
    for (uint32_t pos = 0; pos < n(); ++pos) {
      if (staged[pos]) volumes_[pos]->Remove(record_tmp).IgnoreError();
    }
  };
  if (good < write_quorum_) {
    remove_staged();
    remove_shards(all);
    return QuorumError(what + ": written on " + std::to_string(good) + " volumes, " +
                           std::to_string(write_quorum_) + " needed",
                       last);
  }

  std::lock_guard<std::mutex> lock(UploadMutex(id));
  // Completed or aborted while the part streamed: it belongs to nothing.
  auto again = ReadUpload(id, bucket, key);
  if (!again.ok() || again->state != UploadState::kOpen) {
    remove_staged();
    remove_shards(all);
    return again.ok() ? NoSuchUpload(upload_id) : again.status();
  }
  std::vector<std::optional<PartRecord>> old(n());
  std::vector<std::string> old_raw(n());
  std::vector<bool> took(n(), false);  // the record was renamed into place
  std::vector<uint32_t> renamed;
  for (uint32_t pos = 0; pos < n(); ++pos) {
    if (!staged[pos]) continue;
    Volume* v = volumes_[pos];
    if (auto raw = v->ReadFile(record_path, kMaxPartRecordSize); raw.ok()) {
      old_raw[pos] = *raw;
      if (auto o = PartRecord::Decode(*raw); o.ok()) old[pos] = *o;
    }
    Status s = v->Rename(record_tmp, record_path);
    if (s.ok()) {
      took[pos] = true;
      renamed.push_back(pos);
    } else {
      v->Remove(record_tmp).IgnoreError();
      last = s.WithContext(v->Describe());
    }
  }
  // The renames (and the shard files' names, in the same directory) durable, all members at once.
  std::vector<Status> dir_synced(renamed.size());
  if (opts.fsync) {
    FlushInParallel(renamed.size(), [&](size_t i) {
      dir_synced[i] = volumes_[renamed[i]]->SyncDir(UploadDir(id));
      return dir_synced[i];
    }).IgnoreError();  // each member's outcome is read from dir_synced below
  }
  uint32_t recorded = 0;
  for (size_t i = 0; i < renamed.size(); ++i) {
    if (dir_synced[i].ok()) {
      ++recorded;
    } else {
      last = dir_synced[i].WithContext(volumes_[renamed[i]]->Describe());
    }
  }
  if (recorded < write_quorum_) {
    // Put the previous records back, so the part reads as it did before this upload.
    for (uint32_t pos = 0; pos < n(); ++pos) {
      if (!took[pos]) continue;
      Volume* v = volumes_[pos];
      if (old_raw[pos].empty()) {
        v->Remove(record_path).IgnoreError();
      } else {
        ReplaceFile(*v, record_path, old_raw[pos], kTmpDir).IgnoreError();
      }
    }
    remove_shards(all);
    return QuorumError(what + ": recorded on " + std::to_string(recorded) + " volumes, " +
                           std::to_string(write_quorum_) + " needed",
                       last);
  }
  // The part replaced by this one: its shard files are no longer named by any record.
  for (uint32_t pos = 0; pos < n(); ++pos) {
    if (took[pos] && old[pos] && old[pos]->data_id != data) {
      volumes_[pos]->Remove(PartShardPath(id, old[pos]->data_id)).IgnoreError();
    }
  }
  PartInfo info;
  info.part_number = part_number;
  info.etag = ToHex(pr.md5.data(), 16);
  info.size = pr.size;
  info.mod_time_ns = pr.mod_time_ns;
  if (pr.checksum.algorithm != ChecksumAlgorithm::kNone) info.checksum = pr.checksum.Base64();
  return info;
}

Result<ObjectInfo> ErasureSet::CompleteMultipartUpload(const std::string& bucket,
                                                       const std::string& key,
                                                       const std::string& upload_id,
                                                       const std::vector<CompletedPart>& parts,
                                                       const CompleteMultipartOptions& opts) {
  RETURN_IF_ERROR(ValidateBucketName(bucket));
  RETURN_IF_ERROR(ValidateKey(key));
  Uuid id;
  if (!Uuid::FromHex(upload_id, &id)) return NoSuchUpload(upload_id);
  RETURN_IF_ERROR(CheckBucket(bucket));
  const uint64_t list_hash = PartListHash(parts);

  std::lock_guard<std::mutex> lock(UploadMutex(id));
  ASSIGN_OR_RETURN(UploadRecord rec, ReadUpload(id, bucket, key));
  RETURN_IF_ERROR(
      CheckCompleteChecksumMode(opts, rec.checksum_algorithm, TypeFromMeta(rec.checksum_type)));
  ObjectInfo done;
  if (rec.state == UploadState::kCompleted) {
    // A retried Complete (the same part list): the same answer while the object it made is the
    // key's version.
    if (CompletedFrom(bucket, key, id, &done, &parts)) return done;
    return NoSuchUpload(upload_id);
  }
  if (CompletedFrom(bucket, key, id, &done, &parts)) {
    // A crash after the commit, before the record was marked: finish marking it.
    rec.state = UploadState::kCompleted;
    rec.completed_etag = done.etag;
    rec.completed_parts_hash = list_hash;
    WriteUploadRecord(id, rec);
    return done;
  }
  RETURN_IF_ERROR(CheckWriteQuorum());

  // The part records the list names, read once each as the rules are checked.
  std::vector<PartRecord> records;
  records.reserve(parts.size());
  std::vector<bool> holders, missing(n(), false);
  const ChecksumAlgorithm alg = rec.checksum_algorithm;
  RETURN_IF_ERROR(CheckCompleteList(
      parts, alg, TypeFromMeta(rec.checksum_type), [&](int number) -> Result<UploadedPart> {
        ASSIGN_OR_RETURN(PartRecord pr, ReadPart(id, uint32_t(number), &holders));
        for (uint32_t pos = 0; pos < n(); ++pos) missing[pos] = missing[pos] || !holders[pos];
        UploadedPart up;
        up.etag = ToHex(pr.md5.data(), 16);
        up.size = pr.size;
        if (pr.checksum.algorithm != ChecksumAlgorithm::kNone) up.checksum = pr.checksum.Base64();
        records.push_back(std::move(pr));
        return up;
      }));
  ObjectMeta base;
  base.parts.reserve(parts.size());
  std::string md5s;
  md5s.reserve(parts.size() * 16);
  std::vector<PartChecksum> sums;
  uint64_t size = 0, shard_size = 0;
  for (const PartRecord& pr : records) {
    ObjectPart op;
    op.number = pr.number;
    op.size = pr.size;
    op.data_id = pr.data_id;
    op.shard_size = pr.shard_size;
    op.md5 = pr.md5;
    op.checksum = pr.checksum;
    size += pr.size;
    shard_size += pr.shard_size;
    md5s.append(reinterpret_cast<const char*>(pr.md5.data()), 16);
    if (alg != ChecksumAlgorithm::kNone) sums.push_back({pr.checksum, pr.size});
    base.parts.push_back(op);
  }

  PutOptions po;
  po.content_type = rec.content_type;
  po.user_meta = rec.user_meta;
  po.fsync = opts.fsync;
  po.if_none_match_star = opts.if_none_match_star;
  po.if_match = opts.if_match;
  const std::vector<ObjectPart> object_parts = std::move(base.parts);
  base = BaseMeta(key, size, po, Rotation(bucket, key));
  base.parts = object_parts;
  base.data_id = id;
  base.shard_size = shard_size;
  base.etag = MultipartEtag(md5s);
  if (alg != ChecksumAlgorithm::kNone) {
    base.checksum_type = rec.checksum_type;
    if (rec.checksum_type == kMetaChecksumFullObject) {
      ASSIGN_OR_RETURN(base.checksum, CombineFullObject(alg, sums));
    } else {
      ChecksumStream cs(alg);
      for (const auto& s : sums) cs.Update(s.value.bytes.data(), s.value.len);
      base.checksum = cs.FinalValue();
      base.checksum_parts = uint32_t(sums.size());
    }
  }
  RETURN_IF_ERROR(
      CheckCompleteChecksum(opts, base.checksum, TypeFromMeta(rec.checksum_type), parts.size()));

  VersionCommit commit(*this, bucket, key, id, /*new_version=*/true);
  const std::string tmp = TempName(kTmpDir);
  ObjectMeta m = base;
  for (uint32_t si = 0; si < n(); ++si) {
    const uint32_t pos = base.distribution[si];
    Volume* v = volumes_[pos];
    if (v == nullptr) continue;
    m.shard_index = si;
    auto bytes = m.Encode();
    Status st = bytes.status();
    std::string meta_tmp;
    if (bytes.ok()) {
      meta_tmp = TakeSpare(pos, tmp + ".meta");
      st = v->OverwriteFile(meta_tmp, *bytes);
    }
    if (st.ok()) {
      commit.Stage(pos, meta_tmp);
    } else {
      commit.Fail(pos, st);
      if (!meta_tmp.empty()) v->Remove(meta_tmp).IgnoreError();
    }
  }
  ObjectInfo info = InfoFrom(bucket, base);
  RETURN_IF_ERROR(CommitPut(commit, base, po, &info));

  rec.state = UploadState::kCompleted;
  rec.completed_version = base.version_id;
  rec.completed_etag = base.etag;
  rec.completed_parts_hash = list_hash;
  WriteUploadRecord(id, rec);
  // Members that took the metadata but lack a part's shard (offline during UploadPart): heal.
  std::vector<uint32_t> degraded;
  for (uint32_t pos = 0; pos < n(); ++pos) {
    if (volumes_[pos] != nullptr && missing[pos] && commit.is_published(pos)) degraded.push_back(pos);
  }
  if (!degraded.empty()) RecordMrf(bucket, key, base.version_id, degraded);
  // Parts uploaded but not listed are dropped, as S3 does.
  std::set<uint32_t> listed;
  for (const auto& p : base.parts) listed.insert(p.number);
  for (uint32_t pos = 0; pos < n(); ++pos) {
    Volume* v = volumes_[pos];
    if (v == nullptr) continue;
    auto entries = v->ListDir(UploadDir(id));
    if (!entries.ok()) continue;
    for (const auto& e : *entries) {
      uint32_t number;
      if (!ParsePartRecordName(e.name, &number) || listed.count(number) != 0) continue;
      const std::string path = UploadDir(id) + "/" + e.name;
      if (auto raw = v->ReadFile(path, kMaxPartRecordSize); raw.ok()) {
        if (auto pr = PartRecord::Decode(*raw); pr.ok()) {
          v->Remove(PartShardPath(id, pr->data_id)).IgnoreError();
        }
      }
      v->Remove(path).IgnoreError();
    }
  }
  return info;
}

Status ErasureSet::AbortMultipartUpload(const std::string& bucket, const std::string& key,
                                        const std::string& upload_id) {
  RETURN_IF_ERROR(ValidateBucketName(bucket));
  RETURN_IF_ERROR(ValidateKey(key));
  Uuid id;
  if (!Uuid::FromHex(upload_id, &id)) return NoSuchUpload(upload_id);
  RETURN_IF_ERROR(CheckBucket(bucket));
  std::lock_guard<std::mutex> lock(UploadMutex(id));
  ASSIGN_OR_RETURN(UploadRecord rec, ReadUpload(id, bucket, key));
  if (rec.state != UploadState::kOpen) return NoSuchUpload(upload_id);
  ObjectInfo done;
  if (CompletedFrom(bucket, key, id, &done)) {
    // Its data is an object's now (a crash came before the record was marked): never removed
    // here.
    rec.state = UploadState::kCompleted;
    rec.completed_etag = done.etag;
    WriteUploadRecord(id, rec);
    return NoSuchUpload(upload_id);
  }
  RETURN_IF_ERROR(CheckWriteQuorum());
  // The records first, on every member, so that what is left of an abort cut short is no upload
  // (gc removes the rest).
  for (Volume* v : volumes_) {
    if (v != nullptr) v->Remove(UploadRecordPath(id)).IgnoreError();
  }
  Status first;
  for (Volume* v : volumes_) {
    if (v == nullptr) continue;
    Status s = v->RemoveAll(UploadDir(id));
    if (s.ok()) s = SyncDirOrAncestor(*v, kMultipartDir);
    if (!s.ok() && first.ok()) first = s.WithContext(v->Describe());
  }
  return first;
}

Result<ListPartsResult> ErasureSet::ListParts(const std::string& bucket, const std::string& key,
                                              const std::string& upload_id,
                                              const ListPartsOptions& opts) {
  RETURN_IF_ERROR(ValidateBucketName(bucket));
  RETURN_IF_ERROR(ValidateKey(key));
  if (opts.max_parts < 1 || opts.max_parts > 1000) {
    return InvalidArgument("max-parts must be between 1 and 1000");
  }
  if (opts.part_number_marker < 0) return InvalidArgument("part-number-marker must not be negative");
  Uuid id;
  if (!Uuid::FromHex(upload_id, &id)) return NoSuchUpload(upload_id);
  RETURN_IF_ERROR(CheckBucket(bucket));
  ASSIGN_OR_RETURN(UploadRecord rec, ReadUpload(id, bucket, key));
  if (rec.state != UploadState::kOpen) return NoSuchUpload(upload_id);
  std::set<uint32_t> numbers;
  for (Volume* v : volumes_) {
    if (v == nullptr) continue;
    auto entries = v->ListDir(UploadDir(id));
    if (!entries.ok()) continue;
    for (const auto& e : *entries) {
      uint32_t number;
      if (ParsePartRecordName(e.name, &number) && number > uint32_t(opts.part_number_marker)) {
        numbers.insert(number);
      }
    }
  }
  ListPartsResult out;
  out.upload = UploadFrom(rec, id);
  for (uint32_t number : numbers) {
    auto pr = ReadPart(id, number, nullptr);
    if (!pr.ok()) continue;  // a part whose upload did not reach K members: not uploaded
    if (out.parts.size() == size_t(opts.max_parts)) {
      out.truncated = true;
      break;
    }
    PartInfo p;
    p.part_number = int(pr->number);
    p.etag = ToHex(pr->md5.data(), 16);
    p.size = pr->size;
    p.mod_time_ns = pr->mod_time_ns;
    if (pr->checksum.algorithm != ChecksumAlgorithm::kNone) p.checksum = pr->checksum.Base64();
    out.parts.push_back(std::move(p));
  }
  if (out.truncated) out.next_part_number_marker = out.parts.back().part_number;
  return out;
}

Result<ListUploadsResult> ErasureSet::ListMultipartUploads(const std::string& bucket,
                                                           const ListUploadsOptions& opts) {
  RETURN_IF_ERROR(ValidateBucketName(bucket));
  if (opts.max_uploads < 1 || opts.max_uploads > 1000) {
    return InvalidArgument("max-uploads must be between 1 and 1000");
  }
  RETURN_IF_ERROR(CheckBucket(bucket));
  std::set<std::string> ids;
  for (Volume* v : volumes_) {
    if (v == nullptr) continue;
    auto entries = v->ListDir(kMultipartDir);
    if (!entries.ok()) continue;
    for (const auto& e : *entries) {
      Uuid id;
      if (e.is_dir() && Uuid::FromHex(e.name, &id)) ids.insert(e.name);
    }
  }
  // (key, initiated, id) of every open upload of the bucket under the prefix.
  struct Entry {
    std::string key;
    int64_t initiated;
    std::string id;
    MultipartUpload upload;
  };
  std::vector<Entry> all;
  for (const std::string& hex : ids) {
    Uuid id;
    Uuid::FromHex(hex, &id);
    // ReadUpload checks the key; here any key of the bucket is wanted, so read it for the key
    // first, then through ReadUpload for the quorum.
    std::string rkey;
    for (Volume* v : volumes_) {
      if (v == nullptr) continue;
      auto raw = v->ReadFile(UploadRecordPath(id), kMaxUploadRecordSize);
      if (!raw.ok()) continue;
      if (auto r = UploadRecord::Decode(*raw); r.ok() && r->bucket == bucket) {
        rkey = r->key;
        break;
      }
    }
    if (rkey.empty() || rkey.compare(0, opts.prefix.size(), opts.prefix) != 0) continue;
    auto rec = ReadUpload(id, bucket, rkey);
    if (!rec.ok() || rec->state != UploadState::kOpen) continue;
    all.push_back({rkey, rec->initiated_ns, hex, UploadFrom(*rec, id)});
  }
  std::sort(all.begin(), all.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.key, a.initiated, a.id) < std::tie(b.key, b.initiated, b.id);
  });
  // Where the page starts: after key_marker, or, with upload_id_marker, after that upload of it.
  size_t start = 0;
  if (!opts.key_marker.empty()) {
    const Entry* marker = nullptr;
    if (!opts.upload_id_marker.empty()) {
      for (const auto& e : all) {
        if (e.key == opts.key_marker && e.id == opts.upload_id_marker) marker = &e;
      }
    }
    while (start < all.size()) {
      const Entry& e = all[start];
      bool after;
      if (e.key != opts.key_marker) {
        after = e.key > opts.key_marker;
      } else if (opts.upload_id_marker.empty()) {
        after = false;
      } else if (marker != nullptr) {
        after = std::tie(e.initiated, e.id) > std::tie(marker->initiated, marker->id);
      } else {
        after = e.id > opts.upload_id_marker;
      }
      if (after) break;
      ++start;
    }
  }
  ListUploadsResult out;
  size_t count = 0;
  for (size_t i = start; i < all.size(); ++i) {
    const Entry& e = all[i];
    std::string prefix;
    if (!opts.delimiter.empty()) {
      const size_t d = e.key.find(opts.delimiter, opts.prefix.size());
      if (d != std::string::npos) prefix = e.key.substr(0, d + opts.delimiter.size());
    }
    if (!prefix.empty() && !out.common_prefixes.empty() && out.common_prefixes.back() == prefix) {
      // Rolled up into the prefix just counted; the next page starts after the last of them.
      out.next_key_marker = e.key;
      out.next_upload_id_marker = e.id;
      continue;
    }
    if (count == size_t(opts.max_uploads)) {
      out.truncated = true;
      break;
    }
    ++count;
    if (!prefix.empty()) {
      out.common_prefixes.push_back(prefix);
      out.next_key_marker = e.key;
      out.next_upload_id_marker = e.id;
      continue;
    }
    out.uploads.push_back(e.upload);
    out.next_key_marker = e.key;
    out.next_upload_id_marker = e.id;
  }
  if (!out.truncated) {
    out.next_key_marker.clear();
    out.next_upload_id_marker.clear();
  }
  return out;
}

}  // namespace cairn
