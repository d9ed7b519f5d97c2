// PlainDir's multipart uploads: parts staged under .cairn/uploads/<id>/, their state in the
// UploadStore, Complete assembling them with copy_file_range and renaming the result into place
// (plain_dir.h says why and in which order).
//
// Assembly as parts arrive: every part that fits a uniform layout (every part of the upload's
// size S, recorded from the first part of at least 5 MiB, by its declared size or once staged;
// the last one smaller) goes to offset (n-1)*S of one assembly file per upload
// (.cairn/uploads/<id>/assembly, made by the session's first write and kept open until the upload
// ends). Two ways:
// - Straight from the body (UploadPartToSlot), when the request declared the part's size, it fits
//   S and the slot is free: no part of that number recorded and no other writer (a claim per
//   slot; the loser stages). The part is hashed as it streams and recorded as held by its slot
//   (its file is the assembly file) only once every byte is written, checked and, with fsync,
//   synced. A part of that number uploaded again is staged, so a failed re-upload never spoils a
//   slot a record points at.
// - Staged first (a declared size that does not fit, the slot taken, no size declared, or
//   UploadPartCopy), then copied, in its UploadPart's own thread, into its slot through the
//   thread's buffer while its pages are still cached, and its part row marked as assembled by
//   this PlainDir's session (under the slot's claim, after checking the staged file is still the
//   part's).
// Complete takes the assembly file (synced, renamed into place) when the parts it names are 1..N,
// uniform, each staged file still as uploaded, every slot-held part known to this session and
// the file unchanged since this session's last write (its inode and ctime), and the file exactly
// the object's size: a staged part not marked by this session (it came before S was known, or
// before a restart: marks of another session are never trusted) is copied into its slot then,
// under the lock that keeps every other writer out. In any other case, or on any failure before
// the rename, it copies every part into a new temp file as before, reading a slot-held part from
// the assembly file; one this session cannot vouch for (written before a restart, or the file
// changed) is read back first and its MD5 compared with its ETag (kDataLoss when it differs). A
// Complete that renamed the file but stopped before recording it (a crash) is recognised on retry
// by the object's ETag and size.
#include <algorithm>
#include <memory>
#include <optional>
#include <shared_mutex>

#include "libstore/common/clock.h"
#include "libstore/common/hash.h"
#include "libstore/object/multipart.h"
#include "libstore/plain/key_map.h"
#include "libstore/plain/plain_dir.h"
#include "libstore/plain/plain_internal.h"
#include "libstore/plain/plain_reader.h"
#include "libstore/plain/upload_store.h"

namespace cairn {
namespace {

constexpr const char* kUploadsDir = ".cairn/uploads";
constexpr const char* kAssemblyName = "assembly";  // staged parts are <32 hex>.<n>

std::string AssemblyPath(const std::string& upload_id) {
  return std::string(kUploadsDir) + "/" + upload_id + "/" + kAssemblyName;
}

// A staged part changed since it was uploaded (its size, mtime, inode or ctime differ from the
// stamp taken when it was put in place) is not what its ETag and checksum describe: refuse rather
// than serve it. A rewrite that keeps the size and puts the mtime back still moves the ctime. (A
// part recorded by an older cairn has no inode/ctime: 0.)
Status CheckStaged(const std::string& upload_id, const plain::PartRecord& p, const FileInfo& st) {
  const bool restamped = p.ctime_ns != 0 && (st.ctime_ns != p.ctime_ns || st.ino != p.ino);
  if (st.size != p.size || st.mtime_ns != p.mod_time_ns || restamped) {
    return Status(Code::kDataLoss, "upload " + upload_id + ": the staged part " +
                                       std::to_string(p.part_number) +
                                       " changed on disk since it was uploaded");
  }
  return Status::Ok();
}
// How long a completed upload's answer is kept for a retried Complete.
constexpr int64_t kKeepCompletedNs = int64_t(24) * 3600 * 1000000000;

// 16 hex digits of the initiation time, then 16 random ones: unique, URL-safe, and in initiation
// order when sorted (what ListMultipartUploads lists by within one key).
std::string NewUploadId(int64_t now_ns) {
  static const char kHex[] = "0123456789abcdef";
  std::string id(16, '0');
  uint64_t t = uint64_t(now_ns);
  for (int i = 15; i >= 0; --i, t >>= 4) id[size_t(i)] = kHex[t & 15];
  return id + TempName("").substr(0, 16);
}

bool ValidUploadId(const std::string& id) {
  return id.size() == 32 && id.find_first_not_of("0123456789abcdef") == std::string::npos;
}

Status NoUpload(const std::string& id) {
  return Status(Code::kUploadNotFound,
                "upload " + id.substr(0, 64) + " does not exist, or was completed or aborted");
}

Result<ChecksumAlgorithm> AlgorithmOf(const std::string& name) {
  if (name.empty()) return ChecksumAlgorithm::kNone;
  return ChecksumAlgorithmFromName(name);
}

Result<std::array<uint8_t, 16>> Md5FromHex(const std::string& hex) {
  std::array<uint8_t, 16> out{};
  if (hex.size() != 32) return Status(Code::kCorruption, "part ETag " + hex + " is not an MD5");
  auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (size_t i = 0; i < 16; ++i) {
    const int hi = nib(hex[2 * i]), lo = nib(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return Status(Code::kCorruption, "part ETag " + hex + " is not an MD5");
    out[i] = uint8_t(hi << 4 | lo);
  }
  return out;
}

ChecksumValue ValueOf(ChecksumAlgorithm a, std::string_view raw) {
  ChecksumValue v;
  v.algorithm = a;
  v.len = uint8_t(std::min(raw.size(), kMaxChecksumLen));
  std::copy(raw.begin(), raw.begin() + v.len, v.bytes.begin());
  return v;
}

// What UploadPart and ListParts answer for a recorded part.
PartInfo InfoOf(const plain::PartRecord& p, ChecksumAlgorithm alg) {
  PartInfo info;
  info.part_number = p.part_number;
  info.etag = p.etag;
  info.size = p.size;
  info.mod_time_ns = p.mod_time_ns;
  if (alg != ChecksumAlgorithm::kNone) info.checksum = ValueOf(alg, p.checksum).Base64();
  return info;
}

// The digest of a Complete's parts list, to recognise a retry of the same request.
std::string PartsDigest(const std::vector<CompletedPart>& parts) {
  Md5Stream md5;
  for (const auto& p : parts) {
    const std::string line =
        std::to_string(p.part_number) + " " + std::string(UnquoteEtag(p.etag)) + " " + p.checksum + "\n";
    md5.Update(line.data(), line.size());
  }
  return md5.FinalHex();
}

}  // namespace

std::mutex& PlainDir::UploadLock(const std::string& upload_id) {
  return upload_locks_[std::hash<std::string>()(upload_id) % kKeyLocks];
}

std::shared_mutex& PlainDir::AssemblyLock(const std::string& upload_id) {
  return assembly_locks_[std::hash<std::string>()(upload_id) % kKeyLocks];
}

bool PlainDir::InSlot(const std::string& upload_id, const plain::PartRecord& p) {
  return p.file == AssemblyPath(upload_id);
}

bool PlainDir::ClaimSlot(const std::string& upload_id, int part_number) {
  std::lock_guard<std::mutex> l(assembly_files_mu_);
  return slot_claims_.insert(upload_id + "/" + std::to_string(part_number)).second;
}

void PlainDir::ReleaseSlot(const std::string& upload_id, int part_number) {
  std::lock_guard<std::mutex> l(assembly_files_mu_);
  slot_claims_.erase(upload_id + "/" + std::to_string(part_number));
}

namespace {
// Runs f when the scope ends (releases a slot claim).
template <class F>
struct AtExit {
  F f;
  ~AtExit() { f(); }
};
template <class F>
AtExit(F) -> AtExit<F>;
}  // namespace

std::shared_ptr<WritableFile> PlainDir::AssemblyFile(const std::string& upload_id, bool create) {
  std::lock_guard<std::mutex> l(assembly_files_mu_);
  auto it = assembly_files_.find(upload_id);
  if (it != assembly_files_.end()) return it->second.file;
  if (!create) return nullptr;
  // Made afresh by the first write of this session. A file already there (an earlier run's, or
  // one a failed Complete let go) is cut to nothing only when no recorded part lives in it: the
  // marks of its staged copies are not trusted anyway, but a slot-held part has no other copy.
  if (vol_->Stat(AssemblyPath(upload_id)).ok()) {
    auto parts = uploads_->Parts(upload_id, 0, 0);
    if (!parts.ok()) return nullptr;
    for (const plain::PartRecord& p : *parts) {
      if (InSlot(upload_id, p)) return nullptr;
    }
  }
  auto made = vol_->NewWritableFile(AssemblyPath(upload_id));
  if (!made.ok()) return nullptr;
  AssemblyEntry e;
  e.file = std::shared_ptr<WritableFile>(std::move(made).value());
  assembly_files_.emplace(upload_id, e);
  return e.file;
}

void PlainDir::NoteAssemblyWrite(const std::string& upload_id) {
  auto st = vol_->Stat(AssemblyPath(upload_id));
  std::lock_guard<std::mutex> l(assembly_files_mu_);
  auto it = assembly_files_.find(upload_id);
  if (it == assembly_files_.end()) return;
  if (!st.ok() || (it->second.ino != 0 && st->ino != it->second.ino)) {
    it->second.ino = ~uint64_t(0);  // not the file this session opened: never unchanged again
    return;
  }
  if (it->second.ino != ~uint64_t(0)) it->second.ino = st->ino;
  it->second.ctime_ns = std::max(it->second.ctime_ns, st->ctime_ns);
}

bool PlainDir::AssemblyUnchanged(const std::string& upload_id) {
  // Called with no writer in flight (under the exclusive assembly lock): the last write's own
  // note saw the ctime it left, so a later change shows as a newer one.
  auto st = vol_->Stat(AssemblyPath(upload_id));
  std::lock_guard<std::mutex> l(assembly_files_mu_);
  auto it = assembly_files_.find(upload_id);
  if (it == assembly_files_.end() || !st.ok()) return false;
  return it->second.ino == st->ino && it->second.ctime_ns == st->ctime_ns;
}

void PlainDir::DropAssemblyFile(const std::string& upload_id) {
  std::lock_guard<std::mutex> l(assembly_files_mu_);
  assembly_files_.erase(upload_id);
}

Status PlainDir::CopyIntoSlot(const std::string& upload_id, const plain::PartRecord& p,
                              ReadableFile& in, WritableFile& out, uint64_t at) {
  char* buf = plain::IoBuffer();
  for (uint64_t off = 0; off < p.size;) {
    const size_t want = size_t(std::min<uint64_t>(plain::kIoBufferSize, p.size - off));
    ASSIGN_OR_RETURN(size_t got, in.ReadAt(off, buf, want));
    if (got == 0) {
      return Status(Code::kIOError, "upload " + upload_id + ": the staged part " +
                                        std::to_string(p.part_number) + " is shorter than " +
                                        std::to_string(p.size) + " bytes");
    }
    RETURN_IF_ERROR(out.WriteAt(at + off, buf, got));
    off += got;
  }
  return Status::Ok();
}

void PlainDir::AssemblePart(const std::string& upload_id, const plain::PartRecord& p,
                            uint64_t part_size) {
  if (part_size == 0 || p.size > part_size) return;  // no uniform layout for it
  std::shared_lock<std::shared_mutex> consumers(AssemblyLock(upload_id));
  // Another writer in the slot (a later version's copy or body): this one stays unmarked, and
  // Complete copies it if it is still the part's then.
  if (!ClaimSlot(upload_id, p.part_number)) return;
  AtExit claim{[&] { ReleaseSlot(upload_id, p.part_number); }};
  // Still the part's version: not replaced, the upload neither completed nor aborted meanwhile.
  auto current = uploads_->PartFile(upload_id, p.part_number);
  if (!current.ok() || *current != p.file) return;
  auto in = vol_->NewReadableFile(p.file);
  if (!in.ok()) return;
  std::shared_ptr<WritableFile> out = AssemblyFile(upload_id, true);
  if (!out) return;
  const uint64_t at = uint64_t(p.part_number - 1) * part_size;
  const Status copied = CopyIntoSlot(upload_id, p, **in, *out, at);
  NoteAssemblyWrite(upload_id);
  if (!copied.ok()) return;
  if (!uploads_->MarkAssembled(upload_id, p.part_number, p.file, session_).ok()) return;
  assembly_counters_.parts_assembled.fetch_add(1, std::memory_order_relaxed);
}

Result<plain::UploadRecord> PlainDir::OpenUpload(const std::string& bucket, const std::string& key,
                                                 const std::string& upload_id, bool want_open) {
  RETURN_IF_ERROR(CheckBucket(bucket));
  if (!ValidUploadId(upload_id)) return NoUpload(upload_id);
  ASSIGN_OR_RETURN(auto rec, uploads_->Get(upload_id));
  if (!rec || rec->upload.bucket != bucket || rec->upload.key != key ||
      (want_open && rec->state != plain::UploadState::kOpen)) {
    return NoUpload(upload_id);
  }
  return std::move(*rec);
}

Result<MultipartUpload> PlainDir::CreateMultipartUpload(const std::string& bucket,
                                                        const std::string& key,
                                                        const CreateMultipartOptions& opts) {
  RETURN_IF_ERROR(CheckWritable("create multipart upload"));
  ASSIGN_OR_RETURN(KeyPath kp, MapPlainKey(bucket, key));
  RETURN_IF_ERROR(CheckBucket(bucket));
  if (kp.marker) {
    return InvalidArgument("object key " + key +
                           ": a key ending in '/' is a directory here and holds no bytes");
  }
  PutOptions po;
  po.content_type = opts.content_type;
  po.user_meta = opts.user_meta;
  RETURN_IF_ERROR(ValidatePutOptions(po));
  ASSIGN_OR_RETURN(ChecksumAlgorithm alg, AlgorithmOf(opts.checksum_algorithm));
  ASSIGN_OR_RETURN(ChecksumType type, MultipartChecksumType(alg, opts.checksum_type));

  plain::UploadRecord rec;
  const int64_t now = Clock::Real()->NowNs();
  rec.upload.bucket = bucket;
  rec.upload.key = key;
  rec.upload.upload_id = NewUploadId(now);
  rec.upload.initiated_ns = now;
  rec.upload.checksum_algorithm = alg == ChecksumAlgorithm::kNone ? "" : Name(alg);
  rec.upload.checksum_type = type;
  rec.content_type = opts.content_type;
  rec.user_meta = opts.user_meta;
  uploads_->PruneCompleted(now - kKeepCompletedNs).IgnoreError();  // answers for retries only
  RETURN_IF_ERROR(uploads_->Create(rec));
  return rec.upload;
}

Result<PartInfo> PlainDir::UploadPart(const std::string& bucket, const std::string& key,
                                      const std::string& upload_id, int part_number, Source& src,
                                      const UploadPartOptions& opts) {
  RETURN_IF_ERROR(CheckWritable("upload part"));
  if (part_number < 1 || part_number > kMaxPartNumber) {
    return InvalidArgument("Part number must be an integer between 1 and 10000, inclusive");
  }
  ASSIGN_OR_RETURN(plain::UploadRecord up, OpenUpload(bucket, key, upload_id, true));
  ASSIGN_OR_RETURN(ChecksumAlgorithm alg, AlgorithmOf(up.upload.checksum_algorithm));
  ASSIGN_OR_RETURN(ChecksumAlgorithm sent, AlgorithmOf(opts.checksum_algorithm));
  if (sent != ChecksumAlgorithm::kNone && alg != ChecksumAlgorithm::kNone && sent != alg) {
    return InvalidArgument(
        std::string("Checksum Type mismatch occurred, expected checksum Type: ") + Name(alg) +
        ", actual checksum Type: " + Name(sent));
  }
  BodyChecksums::Plan plan;
  plan.md5 = true;
  plan.checksum = alg != ChecksumAlgorithm::kNone ? alg : sent;
  ExpectedDigests want;
  if (!opts.content_md5.empty()) {
    ASSIGN_OR_RETURN(want.content_md5, ParseContentMd5(opts.content_md5));
  }
  if (!opts.checksum_value.empty()) {
    if (plan.checksum == ChecksumAlgorithm::kNone) {
      return InvalidArgument("a part checksum value needs its algorithm");
    }
    ASSIGN_OR_RETURN(want.checksum, ParseChecksum(plan.checksum, opts.checksum_value));
  }
  if (!opts.payload_sha256.empty()) {
    ASSIGN_OR_RETURN(want.payload_sha256, ParsePayloadSha256Hex(opts.payload_sha256));
    plan.payload_sha256 = true;
  }

  BodyChecksums sums(plan);
  // Straight into its slot of the assembly file when the declared size fits one (S set by the
  // first declared size of at least 5 MiB, if none yet).
  if (opts.size && *opts.size > 0) {
    uint64_t slot = up.assembly_part_size;
    if (slot == 0 && *opts.size >= kMinPartSize) {
      auto set = uploads_->SetAssemblyPartSize(upload_id, *opts.size);
      if (set.ok()) slot = *set;
    }
    // A slot past S3's largest object (5 TiB) holds no part of a valid layout, and the file
    // system may refuse that offset (ext4 files end at 16 TiB).
    constexpr uint64_t kMaxSlotEnd = uint64_t(5) << 40;
    if (slot != 0 && *opts.size <= slot &&
        uint64_t(part_number - 1) * slot + *opts.size <= kMaxSlotEnd) {
      ASSIGN_OR_RETURN(std::optional<PartInfo> placed,
                       UploadPartToSlot(bucket, key, upload_id, part_number, slot, src, sums, want,
                                        *opts.size, opts.fsync));
      if (placed) return std::move(*placed);
    }
  }

  // Stream into a temp file (removed on every failure below until its rename).
  plain::TempFile tmp(vol_, TempName(plain::kTmpDir));
  ASSIGN_OR_RETURN(auto file, vol_->NewWritableFile(tmp.path()));
  char* buf = plain::IoBuffer();
  uint64_t size = 0;
  while (true) {
    ASSIGN_OR_RETURN(size_t n, ReadFull(src, buf, plain::kIoBufferSize));
    if (n == 0) break;
    sums.Update(buf, n);
    RETURN_IF_ERROR(file->Append(buf, n));
    size += n;
    if (n < plain::kIoBufferSize) break;
  }
  sums.Finish();
  RETURN_IF_ERROR(sums.Verify(want).WithContext("part " + std::to_string(part_number)));
  if (Sync(opts.fsync)) RETURN_IF_ERROR(file->Sync());
  RETURN_IF_ERROR(file->Close());
  ASSIGN_OR_RETURN(FileInfo st, vol_->Stat(tmp.path()));

  plain::PartRecord p;
  p.part_number = part_number;
  p.etag = ToHex(sums.md5().data(), sums.md5().size());
  p.size = size;
  p.mod_time_ns = st.mtime_ns;
  if (alg != ChecksumAlgorithm::kNone) p.checksum = std::string(sums.checksum().raw());
  return StagePart(bucket, key, upload_id, tmp, p, opts.fsync);
}

Result<std::optional<PartInfo>> PlainDir::UploadPartToSlot(
    const std::string& bucket, const std::string& key, const std::string& upload_id,
    int part_number, uint64_t part_size, Source& src, BodyChecksums& sums,
    const ExpectedDigests& want, uint64_t declared, bool fsync) {
  // Shared with the other writers of the upload's slots; Complete and Abort wait for the body.
  std::shared_lock<std::shared_mutex> consumers(AssemblyLock(upload_id));
  ASSIGN_OR_RETURN(plain::UploadRecord up, OpenUpload(bucket, key, upload_id, true));
  ASSIGN_OR_RETURN(ChecksumAlgorithm alg, AlgorithmOf(up.upload.checksum_algorithm));
  if (!ClaimSlot(upload_id, part_number)) return std::optional<PartInfo>();  // the loser stages
  AtExit claim{[&] { ReleaseSlot(upload_id, part_number); }};
  // Free only while no part of that number is recorded: a recorded part may be held by the slot,
  // and if this body failed midway S3 keeps that part.
  ASSIGN_OR_RETURN(std::string current, uploads_->PartFile(upload_id, part_number));
  if (!current.empty()) return std::optional<PartInfo>();
  const std::string dir = std::string(kUploadsDir) + "/" + upload_id;
  RETURN_IF_ERROR(vol_->MakeDirs(dir));
  std::shared_ptr<WritableFile> out = AssemblyFile(upload_id, true);
  if (!out) return std::optional<PartInfo>();

  // Nothing records the slot until every byte is in, checked and (with fsync) synced: a body
  // that fails midway leaves bytes nobody points at.
  const uint64_t at = uint64_t(part_number - 1) * part_size;
  char* buf = plain::IoBuffer();
  uint64_t size = 0;
  Status streamed = [&]() -> Status {
    while (true) {
      ASSIGN_OR_RETURN(size_t n, ReadFull(src, buf, plain::kIoBufferSize));
      if (n == 0) return Status::Ok();
      if (size + n > declared) {
        return InvalidArgument("part " + std::to_string(part_number) +
                               ": the body is longer than the " + std::to_string(declared) +
                               " bytes declared");
      }
      sums.Update(buf, n);
      RETURN_IF_ERROR(out->WriteAt(at + size, buf, n));
      size += n;
      if (n < plain::kIoBufferSize) return Status::Ok();
    }
  }();
  NoteAssemblyWrite(upload_id);
  RETURN_IF_ERROR(streamed);
  sums.Finish();
  RETURN_IF_ERROR(sums.Verify(want).WithContext("part " + std::to_string(part_number)));
  if (Sync(fsync)) {
    // As a staged part: its bytes, then the names leading to them, before the record.
    RETURN_IF_ERROR(out->Sync());
    RETURN_IF_ERROR(vol_->SyncDir(dir));
    RETURN_IF_ERROR(vol_->SyncDir(kUploadsDir));
  }

  plain::PartRecord p;
  p.part_number = part_number;
  p.file = AssemblyPath(upload_id);
  p.etag = ToHex(sums.md5().data(), sums.md5().size());
  p.size = size;
  p.mod_time_ns = Clock::Real()->NowNs();
  if (alg != ChecksumAlgorithm::kNone) p.checksum = std::string(sums.checksum().raw());
  p.assembled = session_;
  {
    std::lock_guard<std::mutex> l(UploadLock(upload_id));
    RETURN_IF_ERROR(OpenUpload(bucket, key, upload_id, true).status());
    // A part staged meanwhile (a concurrent upload of the same number) is replaced: this one
    // finished last.
    ASSIGN_OR_RETURN(std::string replaced, uploads_->PutPart(upload_id, p));
    if (!replaced.empty() && replaced != p.file) vol_->Remove(replaced).IgnoreError();
  }
  assembly_counters_.parts_in_slot.fetch_add(1, std::memory_order_relaxed);
  return std::optional<PartInfo>(InfoOf(p, alg));
}

Result<PartInfo> PlainDir::StagePart(const std::string& bucket, const std::string& key,
                                     const std::string& upload_id, plain::TempFile& tmp,
                                     plain::PartRecord& p, bool fsync) {
  // Under the upload's lock: a Complete or Abort running now sees the part before or not at all.
  std::unique_lock<std::mutex> l(UploadLock(upload_id));
  ASSIGN_OR_RETURN(plain::UploadRecord up, OpenUpload(bucket, key, upload_id, true));
  ASSIGN_OR_RETURN(ChecksumAlgorithm alg, AlgorithmOf(up.upload.checksum_algorithm));
  const std::string dir = std::string(kUploadsDir) + "/" + upload_id;
  RETURN_IF_ERROR(vol_->MakeDirs(dir));
  p.file = TempName(dir, "." + std::to_string(p.part_number));
  RETURN_IF_ERROR(vol_->Rename(tmp.path(), p.file));
  tmp.Disarm();
  plain::TempFile staged(vol_, p.file);  // removed unless recorded
  // Stamped in place (the rename changed the ctime): Complete compares the stamp.
  ASSIGN_OR_RETURN(FileInfo placed, vol_->Stat(p.file));
  p.ino = placed.ino;
  p.ctime_ns = placed.ctime_ns;
  if (Sync(fsync)) {
    RETURN_IF_ERROR(vol_->SyncDir(dir));
    RETURN_IF_ERROR(vol_->SyncDir(kUploadsDir));
  }
  uint64_t assembly_size = up.assembly_part_size;
  if (assembly_size == 0 && p.size >= kMinPartSize) {
    auto set = uploads_->SetAssemblyPartSize(upload_id, p.size);
    if (set.ok()) assembly_size = *set;  // else: no assembly for this part
  }
  ASSIGN_OR_RETURN(std::string replaced, uploads_->PutPart(upload_id, p));
  staged.Disarm();
  // The part uploaded before (its file; a slot-held one's bytes are simply no longer pointed at).
  if (!replaced.empty() && replaced != AssemblyPath(upload_id)) vol_->Remove(replaced).IgnoreError();
  l.unlock();
  AssemblePart(upload_id, p, assembly_size);

  return InfoOf(p, alg);
}

Result<PartInfo> PlainDir::UploadPartCopy(const std::string& src_bucket,
                                          const std::string& src_key, const std::string& bucket,
                                          const std::string& key, const std::string& upload_id,
                                          int part_number, const CopyPartOptions& opts) {
  RETURN_IF_ERROR(CheckWritable("upload part copy"));
  if (part_number < 1 || part_number > kMaxPartNumber) {
    return InvalidArgument("Part number must be an integer between 1 and 10000, inclusive");
  }
  ASSIGN_OR_RETURN(plain::UploadRecord up, OpenUpload(bucket, key, upload_id, true));
  ASSIGN_OR_RETURN(ChecksumAlgorithm alg, AlgorithmOf(up.upload.checksum_algorithm));
  // The source's file stays open, so the bytes copied are of the version its info describes
  // whatever writers do meanwhile (a PUT renames a new file over the key's path).
  auto opened = Open(src_bucket, src_key, true);
  if (!opened.ok()) return CopyPartSourceError(opts, opened.status());
  Opened& o = *opened;
  if (!o.file) {
    return InvalidArgument("copy source " + src_bucket + "/" + src_key +
                           " is a folder and holds no bytes");
  }
  auto resolved = ResolveRange(opts.range, o.info.size);
  if (!resolved.ok()) return CopyPartSourceError(opts, resolved.status());
  const ByteRange range = *resolved;
  RETURN_IF_ERROR(CheckCopyPartSource(opts, o.info, range));

  plain::PartRecord p;
  p.part_number = part_number;
  p.size = range.length;
  // The part's MD5 (its ETag) and checksum: the source's when it is copied whole and they are
  // known, else read from the range once (the copy itself never passes through user space).
  const bool whole = range.first == 0 && range.length == o.info.size;
  if (whole && o.md5_known && alg == ChecksumAlgorithm::kNone) {
    p.etag = o.info.etag;
  } else {
    BodyChecksums::Plan plan;
    plan.md5 = true;
    plan.checksum = alg;
    BodyChecksums sums(plan);
    char* buf = plain::IoBuffer();
    for (uint64_t off = 0; off < range.length;) {
      const size_t want = size_t(std::min<uint64_t>(plain::kIoBufferSize, range.length - off));
      ASSIGN_OR_RETURN(size_t got, o.file->ReadAt(range.first + off, buf, want));
      if (got == 0) {
        return Status(Code::kIOError, "copy source " + src_bucket + "/" + src_key +
                                          " ended before its size");
      }
      sums.Update(buf, got);
      off += got;
    }
    sums.Finish();
    p.etag = ToHex(sums.md5().data(), sums.md5().size());
    if (alg != ChecksumAlgorithm::kNone) p.checksum = std::string(sums.checksum().raw());
  }

  plain::TempFile tmp(vol_, TempName(plain::kTmpDir));
  ASSIGN_OR_RETURN(auto file, vol_->NewWritableFile(tmp.path()));
  for (uint64_t off = 0; off < range.length;) {
    ASSIGN_OR_RETURN(uint64_t got,
                     file->AppendFrom(*o.file, range.first + off, range.length - off));
    if (got == 0) {
      return Status(Code::kIOError, "copy source " + src_bucket + "/" + src_key +
                                        " ended before its size");
    }
    off += got;
  }
  if (Sync(opts.fsync)) RETURN_IF_ERROR(file->Sync());
  RETURN_IF_ERROR(file->Close());
  // The source changed while it was read (a program wrote into the file in place): the part
  // would not be what its ETag says.
  ASSIGN_OR_RETURN(FileInfo now, o.file->StatOpen());
  if (!(FileStamp::Of(now) == o.stamp)) {
    return Status(Code::kPreconditionFailed, "copy source " + src_bucket + "/" + src_key +
                                                 " changed while it was copied");
  }
  ASSIGN_OR_RETURN(FileInfo st, vol_->Stat(tmp.path()));
  p.mod_time_ns = st.mtime_ns;
  return StagePart(bucket, key, upload_id, tmp, p, opts.fsync);
}

Result<uint64_t> PlainDir::AbortStaleUploads(int64_t older_than_ns) {
  if (older_than_ns < 0) return InvalidArgument("upload expiry must not be negative");
  RETURN_IF_ERROR(CheckWritable("abort stale uploads"));
  const int64_t cutoff = Clock::Real()->NowNs() - older_than_ns;
  ASSIGN_OR_RETURN(std::vector<plain::UploadRecord> stale, uploads_->OpenBefore(cutoff));
  uint64_t removed = 0;
  Status first;
  for (const plain::UploadRecord& u : stale) {
    Status s = AbortMultipartUpload(u.upload.bucket, u.upload.key, u.upload.upload_id);
    if (s.ok()) {
      ++removed;
    } else if (s.code() != Code::kUploadNotFound && s.code() != Code::kBucketNotFound &&
               first.ok()) {
      first = s.WithContext("upload " + u.upload.upload_id);  // completed meanwhile: fine
    }
  }
  if (!first.ok()) return first;
  return removed;
}

bool PlainDir::AssemblyUsable(const std::string& upload_id, const plain::UploadRecord& up,
                              const std::vector<const plain::PartRecord*>& chosen,
                              const std::vector<bool>& trusted, std::vector<bool>* missing) {
  const uint64_t s = up.assembly_part_size;
  if (s == 0 || chosen.empty()) return false;
  // Without this session's open file, as this session left it, no mark holds.
  const bool have = AssemblyFile(upload_id, false) != nullptr && AssemblyUnchanged(upload_id);
  missing->assign(chosen.size(), true);
  for (size_t i = 0; i < chosen.size(); ++i) {
    const plain::PartRecord& p = *chosen[i];
    const bool last = i + 1 == chosen.size();
    if (p.part_number != int(i + 1) || (last ? p.size > s : p.size != s)) return false;
    if (InSlot(upload_id, p)) {
      if (!trusted[i]) return false;  // the copy reads it back
      (*missing)[i] = false;
      continue;
    }
    auto st = vol_->Stat(p.file);
    if (!st.ok() || !CheckStaged(upload_id, p, *st).ok()) return false;  // the copy says why
    (*missing)[i] = !have || p.assembled != session_;
  }
  return true;
}

Status PlainDir::VerifySlot(const std::string& upload_id, const plain::PartRecord& p,
                            ReadableFile& in, uint64_t at) {
  Md5Stream md5;
  char* buf = plain::IoBuffer();
  for (uint64_t off = 0; off < p.size;) {
    const size_t want = size_t(std::min<uint64_t>(plain::kIoBufferSize, p.size - off));
    ASSIGN_OR_RETURN(size_t got, in.ReadAt(at + off, buf, want));
    if (got == 0) {
      return DataLoss("upload " + upload_id + ": the assembly file ends inside part " +
                      std::to_string(p.part_number));
    }
    md5.Update(buf, got);
    off += got;
  }
  assembly_counters_.slot_parts_verified.fetch_add(1, std::memory_order_relaxed);
  if (md5.FinalHex() != p.etag) {
    return DataLoss("upload " + upload_id + ": part " + std::to_string(p.part_number) +
                    " changed on disk since it was uploaded (its bytes in the assembly file do"
                    " not match its ETag)");
  }
  return Status::Ok();
}

Status PlainDir::FinishAssembly(const std::string& upload_id, plain::TempFile& file,
                                const std::vector<const plain::PartRecord*>& chosen,
                                const std::vector<bool>& missing, uint64_t size,
                                const PutOptions& po) {
  // Unmarked and out of the session's files first: whatever happens next, the file is never
  // taken again as it is.
  RETURN_IF_ERROR(uploads_->ClearAssembled(upload_id));
  std::shared_ptr<WritableFile> out = AssemblyFile(upload_id, true);
  DropAssemblyFile(upload_id);
  if (!out) return Status(Code::kIOError, "upload " + upload_id + ": no assembly file");
  // The parts not copied while they arrived (sent before S was known, or before a restart).
  const uint64_t s = chosen.front()->size;
  for (size_t i = 0; i < chosen.size(); ++i) {
    if (!missing[i]) continue;
    const plain::PartRecord& p = *chosen[i];
    ASSIGN_OR_RETURN(auto in, vol_->NewReadableFile(p.file));
    ASSIGN_OR_RETURN(FileInfo pst, in->StatOpen());
    RETURN_IF_ERROR(CheckStaged(upload_id, p, pst));
    RETURN_IF_ERROR(CopyIntoSlot(upload_id, p, *in, *out, i * s));
    assembly_counters_.parts_copied_at_complete.fetch_add(1, std::memory_order_relaxed);
  }
  // Longer than the object when a slot held a larger part before, or parts after the last were
  // copied: then the full copy (no truncate in WritableFile).
  ASSIGN_OR_RETURN(FileInfo st, vol_->Stat(file.path()));
  if (st.size != size) {
    return Status(Code::kIOError, "upload " + upload_id + ": the assembly file holds " +
                                      std::to_string(st.size) + " bytes, not " +
                                      std::to_string(size));
  }
  if (Sync(po)) RETURN_IF_ERROR(out->Sync());
  return out->Close();
}

Status PlainDir::CopyParts(const std::string& upload_id, const plain::UploadRecord& up,
                           const std::vector<const plain::PartRecord*>& chosen,
                           const std::vector<bool>& trusted, const std::string& path,
                           const PutOptions& po) {
  // copy_file_range from each staged part or slot, no byte through user space on a LocalVolume
  // (but for the slots read back to check them).
  ASSIGN_OR_RETURN(auto out, vol_->NewWritableFile(path));
  std::unique_ptr<ReadableFile> assembly;  // opened once, for the slot-held parts
  for (size_t i = 0; i < chosen.size(); ++i) {
    const plain::PartRecord* p = chosen[i];
    std::unique_ptr<ReadableFile> staged;
    ReadableFile* in = nullptr;
    uint64_t from = 0;
    if (InSlot(upload_id, *p)) {
      if (up.assembly_part_size == 0) {
        return DataLoss("upload " + upload_id + ": part " + std::to_string(p->part_number) +
                        " is recorded in a slot of no layout");
      }
      if (!assembly) {
        ASSIGN_OR_RETURN(assembly, vol_->NewReadableFile(p->file));
      }
      in = assembly.get();
      from = uint64_t(p->part_number - 1) * up.assembly_part_size;
      if (!trusted[i]) RETURN_IF_ERROR(VerifySlot(upload_id, *p, *in, from));
    } else {
      ASSIGN_OR_RETURN(staged, vol_->NewReadableFile(p->file));
      ASSIGN_OR_RETURN(FileInfo pst, staged->StatOpen());
      RETURN_IF_ERROR(CheckStaged(upload_id, *p, pst));
      in = staged.get();
    }
    for (uint64_t off = 0; off < p->size;) {
      ASSIGN_OR_RETURN(uint64_t got, out->AppendFrom(*in, from + off, p->size - off));
      if (got == 0) {
        return Status(Code::kIOError, "upload " + upload_id + ": the staged part " +
                                          std::to_string(p->part_number) + " is shorter than " +
                                          std::to_string(p->size) + " bytes");
      }
      off += got;
    }
  }
  if (Sync(po)) RETURN_IF_ERROR(out->Sync());
  return out->Close();
}

Result<ObjectInfo> PlainDir::CompleteMultipartUpload(const std::string& bucket,
                                                     const std::string& key,
                                                     const std::string& upload_id,
                                                     const std::vector<CompletedPart>& parts,
                                                     const CompleteMultipartOptions& opts) {
  RETURN_IF_ERROR(CheckWritable("complete multipart upload"));
  ASSIGN_OR_RETURN(KeyPath kp, MapPlainKey(bucket, key));
  // No part is written into the assembly file while it is looked at, consumed or removed (a slot
  // writer holds the shared side across its body, then takes the upload's lock: this order).
  std::unique_lock<std::shared_mutex> assembly(AssemblyLock(upload_id));
  std::lock_guard<std::mutex> l(UploadLock(upload_id));
  ASSIGN_OR_RETURN(plain::UploadRecord up, OpenUpload(bucket, key, upload_id, false));
  ASSIGN_OR_RETURN(ChecksumAlgorithm alg, AlgorithmOf(up.upload.checksum_algorithm));
  const ChecksumType type = up.upload.checksum_type;
  const std::string digest = PartsDigest(parts);
  RETURN_IF_ERROR(CheckCompleteChecksumMode(opts, alg, type));

  auto answer = [&](const plain::Completion& c) -> Result<ObjectInfo> {
    ObjectInfo info;
    info.bucket = bucket;
    info.key = key;
    info.etag = c.etag;
    info.size = c.size;
    info.mod_time_ns = c.mod_time_ns;
    info.content_type = up.content_type;
    info.user_meta = up.user_meta;
    if (!c.checksum_b64.empty()) {
      ASSIGN_OR_RETURN(info.checksum, ParseChecksum(alg, c.checksum_b64));
      info.checksum_type = type;
      if (type == ChecksumType::kComposite) info.checksum_parts = uint32_t(parts.size());
    }
    return info;
  };
  if (up.state == plain::UploadState::kCompleted) {
    // A retry of the request that completed it gets the same answer; anything else, none.
    ASSIGN_OR_RETURN(plain::Completion c, plain::DecodeCompletion(up.completion));
    if (c.parts_digest != digest) return NoUpload(upload_id);
    return answer(c);
  }

  ASSIGN_OR_RETURN(std::vector<plain::PartRecord> stored, uploads_->Parts(upload_id, 0, 0));
  std::vector<const plain::PartRecord*> chosen;
  chosen.reserve(parts.size());
  RETURN_IF_ERROR(
      CheckCompleteList(parts, alg, type, [&](int number) -> Result<UploadedPart> {
        auto it = std::lower_bound(
            stored.begin(), stored.end(), number,
            [](const plain::PartRecord& r, int n) { return r.part_number < n; });
        if (it == stored.end() || it->part_number != number) {
          return Status(Code::kInvalidPart, "part " + std::to_string(number) + " was not uploaded");
        }
        chosen.push_back(&*it);
        UploadedPart up;
        up.etag = it->etag;
        up.size = it->size;
        if (alg != ChecksumAlgorithm::kNone) up.checksum = ValueOf(alg, it->checksum).Base64();
        return up;
      }));

  // The ETag S3 gives: the MD5 of the parts' binary MD5s, "-N".
  std::string md5s;
  md5s.reserve(chosen.size() * 16);
  uint64_t size = 0;
  std::vector<PartChecksum> sums;
  plain::MultipartObjectRecord layout;
  for (const plain::PartRecord* p : chosen) {
    ASSIGN_OR_RETURN(auto bin, Md5FromHex(p->etag));
    md5s.append(reinterpret_cast<const char*>(bin.data()), bin.size());
    size += p->size;
    layout.part_sizes.push_back(p->size);
    if (alg != ChecksumAlgorithm::kNone)
      sums.push_back(PartChecksum{ValueOf(alg, p->checksum), p->size});
  }
  const std::string etag = MultipartEtag(md5s);
  std::string checksum_b64;
  if (alg != ChecksumAlgorithm::kNone) {
    if (type == ChecksumType::kFullObject) {
      ASSIGN_OR_RETURN(layout.checksum, CombineFullObject(alg, sums));
      checksum_b64 = layout.checksum.Base64();
    } else {
      ASSIGN_OR_RETURN(std::string composite, CompositeChecksum(alg, sums));
      checksum_b64 = composite.substr(0, composite.rfind('-'));
      ASSIGN_OR_RETURN(layout.checksum, ParseChecksum(alg, checksum_b64));
      layout.checksum_parts = uint32_t(chosen.size());
    }
    layout.checksum_type = type;
  }
  RETURN_IF_ERROR(CheckCompleteChecksum(opts, layout.checksum, type, chosen.size()));

  // The slot-held parts this session vouches for: written by it into the file it holds open,
  // which nothing else changed since (the others are read back before they are used).
  const bool vouched = AssemblyFile(upload_id, false) != nullptr && AssemblyUnchanged(upload_id);
  std::vector<bool> trusted(chosen.size(), true);
  bool in_slots = false;
  for (size_t i = 0; i < chosen.size(); ++i) {
    if (!InSlot(upload_id, *chosen[i])) continue;
    in_slots = true;
    trusted[i] = vouched && chosen[i]->assembled == session_;
  }
  if (in_slots && vol_->Stat(AssemblyPath(upload_id)).status().code() == Code::kNotFound) {
    // The only copy of those parts is gone: a Complete renamed the file into place and stopped
    // before recording it (a crash), and this is its retry, if the object is what it made.
    auto cur = HeadObject(bucket, key);
    if (!cur.ok() || UnquoteEtag(cur->etag) != etag || cur->size != size) {
      return DataLoss("upload " + upload_id + ": the assembly file holding its parts is gone");
    }
    plain::Completion c;
    c.parts_digest = digest;
    c.etag = cur->etag;
    c.size = cur->size;
    c.mod_time_ns = cur->mod_time_ns;
    c.checksum_b64 = checksum_b64;
    RETURN_IF_ERROR(uploads_->MarkCompleted(upload_id, plain::EncodeCompletion(c)));
    DropAssemblyFile(upload_id);
    vol_->RemoveAll(std::string(kUploadsDir) + "/" + upload_id).IgnoreError();
    return answer(c);
  }

  PutOptions po;
  po.content_type = up.content_type;
  po.user_meta = up.user_meta;
  po.if_none_match_star = opts.if_none_match_star;
  po.if_match = opts.if_match;
  po.fsync = opts.fsync;
  RETURN_IF_ERROR(CheckNoConflict(key, kp.path, false));
  RETURN_IF_ERROR(CheckPutConditionsAt(bucket, key, kp.path, false, po));

  // The assembly file as the parts arrived, when the parts named fit its layout (top of file);
  // else (or on any failure before the rename) every part copied into a temp file.
  std::optional<plain::TempFile> taken;
  std::vector<bool> missing;
  if (AssemblyUsable(upload_id, up, chosen, trusted, &missing)) {
    taken.emplace(vol_, AssemblyPath(upload_id));
    Status s = FinishAssembly(upload_id, *taken, chosen, missing, size, po);
    if (s.ok()) {
      assembly_counters_.fast_completes.fetch_add(1, std::memory_order_relaxed);
    } else {
      taken->Disarm();  // unmarked now: left for the upload's removal
      taken.reset();
    }
  }
  if (!taken) {
    taken.emplace(vol_, TempName(plain::kTmpDir));
    RETURN_IF_ERROR(CopyParts(upload_id, up, chosen, trusted, taken->path(), po));
    assembly_counters_.full_copies.fetch_add(1, std::memory_order_relaxed);
  }
  plain::TempFile& tmp = *taken;
  ASSIGN_OR_RETURN(FileInfo tmp_st, vol_->Stat(tmp.path()));
  layout.stamp = FileStamp::Of(tmp_st);  // a rename keeps dev, ino, size and mtime
  RETURN_IF_ERROR(uploads_->PutObjectLayout(bucket, key, layout));
  plain::Digests digests;  // the multipart ETag and the object's checksum, kept in its record
  digests.md5_hex = etag;
  digests.checksum = layout.checksum;
  digests.checksum_type = layout.checksum_type;
  digests.checksum_parts = layout.checksum_parts;
  AnnouncedPut ahead(meta_.get());
  ASSIGN_OR_RETURN(ObjectInfo info,
                   CommitTemp(bucket, key, kp.path, tmp, po, digests, size, ahead));

  plain::Completion c;
  c.parts_digest = digest;
  c.etag = info.etag;
  c.size = info.size;
  c.mod_time_ns = info.mod_time_ns;
  c.checksum_b64 = checksum_b64;
  // Until this is recorded the upload stays open: a retried Complete assembles it again.
  RETURN_IF_ERROR(uploads_->MarkCompleted(upload_id, plain::EncodeCompletion(c)));
  DropAssemblyFile(upload_id);
  vol_->RemoveAll(std::string(kUploadsDir) + "/" + upload_id).IgnoreError();
  return answer(c);
}

Status PlainDir::AbortMultipartUpload(const std::string& bucket, const std::string& key,
                                      const std::string& upload_id) {
  RETURN_IF_ERROR(CheckWritable("abort multipart upload"));
  std::unique_lock<std::shared_mutex> assembly(AssemblyLock(upload_id));
  std::lock_guard<std::mutex> l(UploadLock(upload_id));
  ASSIGN_OR_RETURN(plain::UploadRecord up, OpenUpload(bucket, key, upload_id, true));
  const Status forgotten = uploads_->Delete(upload_id);
  if (!forgotten.ok() && forgotten.code() != Code::kNoSpace) return forgotten;
  DropAssemblyFile(upload_id);
  Status s = vol_->RemoveAll(std::string(kUploadsDir) + "/" + upload_id);
  if (!s.ok() && !plain::IsAbsent(s)) return s;
  // A full disk refuses even the record's removal (the WAL must grow), and an abort is how a
  // client gives back the room its parts took: the parts went first, then the record. A crash in
  // between leaves the upload listed without parts, for the next abort or the expiry.
  if (!forgotten.ok()) return uploads_->Delete(upload_id);
  return Status::Ok();
}

Result<ListPartsResult> PlainDir::ListParts(const std::string& bucket, const std::string& key,
                                            const std::string& upload_id,
                                            const ListPartsOptions& opts) {
  ASSIGN_OR_RETURN(plain::UploadRecord up, OpenUpload(bucket, key, upload_id, true));
  const int max = std::clamp(opts.max_parts, 1, 1000);
  ASSIGN_OR_RETURN(auto parts,
                   uploads_->Parts(upload_id, std::max(0, opts.part_number_marker), max + 1));
  ASSIGN_OR_RETURN(ChecksumAlgorithm alg, AlgorithmOf(up.upload.checksum_algorithm));
  ListPartsResult r;
  r.upload = up.upload;
  r.truncated = parts.size() > size_t(max);
  if (r.truncated) parts.resize(size_t(max));
  for (const auto& p : parts) r.parts.push_back(InfoOf(p, alg));
  if (r.truncated) r.next_part_number_marker = r.parts.back().part_number;
  return r;
}

Result<ListUploadsResult> PlainDir::ListMultipartUploads(const std::string& bucket,
                                                         const ListUploadsOptions& opts) {
  RETURN_IF_ERROR(CheckBucket(bucket));
  const size_t max = size_t(std::clamp(opts.max_uploads, 1, 1000));
  const std::string& prefix = opts.prefix;
  const std::string& delim = opts.delimiter;
  // A key marker that is a common prefix (it ends in the delimiter) skips every key under it.
  const bool marker_is_prefix =
      !delim.empty() && !opts.key_marker.empty() && opts.key_marker.size() >= delim.size() &&
      opts.key_marker.compare(opts.key_marker.size() - delim.size(), delim.size(), delim) == 0;
  ListUploadsResult r;
  std::string last_prefix;
  size_t count = 0;
  Status st = uploads_->ListOpen(
      bucket, std::max(prefix, opts.key_marker), [&](const plain::UploadRecord& u) {
        const std::string& k = u.upload.key;
        if (k.compare(0, prefix.size(), prefix) != 0) return false;  // past the prefix
        if (!opts.key_marker.empty()) {
          if (k == opts.key_marker &&
              (opts.upload_id_marker.empty() || u.upload.upload_id <= opts.upload_id_marker)) {
            return true;
          }
          if (marker_is_prefix && k.compare(0, opts.key_marker.size(), opts.key_marker) == 0) {
            return true;
          }
        }
        std::string cp;
        if (!delim.empty()) {
          const size_t d = k.find(delim, prefix.size());
          if (d != std::string::npos) cp = k.substr(0, d + delim.size());
        }
        if (!cp.empty() && cp == last_prefix) return true;  // rolled up already
        if (count == max) {
          r.truncated = true;
          return false;
        }
        ++count;
        if (!cp.empty()) {
          last_prefix = cp;
          r.common_prefixes.push_back(cp);
          r.next_key_marker = cp;
          r.next_upload_id_marker.clear();
        } else {
          r.uploads.push_back(u.upload);
          r.next_key_marker = k;
          r.next_upload_id_marker = u.upload.upload_id;
        }
        return true;
      });
  RETURN_IF_ERROR(st);
  if (!r.truncated) {
    r.next_key_marker.clear();
    r.next_upload_id_marker.clear();
  }
  return r;
}

Status PlainDir::DropUploads(const std::string& bucket) {
  ASSIGN_OR_RETURN(std::vector<std::string> open, uploads_->DeleteBucket(bucket));
  for (const std::string& id : open) {
    std::unique_lock<std::shared_mutex> assembly(AssemblyLock(id));
    std::lock_guard<std::mutex> l(UploadLock(id));
    DropAssemblyFile(id);
    Status s = vol_->RemoveAll(std::string(kUploadsDir) + "/" + id);
    if (!s.ok() && !plain::IsAbsent(s)) return s;
  }
  return Status::Ok();
}

Status PlainDir::DescribeMultipart(const std::string& bucket, const std::string& key,
                                   const FileStamp& stamp, ObjectInfo* info) {
  ASSIGN_OR_RETURN(auto layout, uploads_->GetObjectLayout(bucket, key, stamp));
  if (!layout) return Status::Ok();
  info->parts_count = uint32_t(layout->part_sizes.size());
  if (layout->checksum.algorithm == ChecksumAlgorithm::kNone) return Status::Ok();
  info->checksum = layout->checksum;
  info->checksum_type = layout->checksum_type;
  info->checksum_parts = layout->checksum_parts;
  return Status::Ok();
}

}  // namespace cairn
