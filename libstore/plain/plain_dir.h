// PlainDir: an ObjectStore over a directory served as-is. Top-level directories are buckets,
// files beneath them are objects (key_map.h says how keys name files); nothing is imported or
// converted, and files that other programs add, change or remove show up at once (nothing about
// the tree is cached: every call looks at the directory).
//
// What it keeps beside the files: `.cairn/tmp/` at the root holds uploads until they are renamed
// into place, `.cairn/uploads/` the parts of multipart uploads (their state in an UploadStore,
// upload_store.h, in the same database), and a MetaStore (meta_store.h, SQLite, at PlainDirOptions::db_path) holds content
// types, user metadata, checksums and MD5s, each stamped with the file it describes.
//
// Writes: a PUT streams into a temp file under .cairn/tmp (the MD5 ETag, the client's Content-MD5
// and x-amz-checksum-* computed in the one pass as bytes arrive and checked before anything is
// committed; the checksum is kept in the record and returned in ObjectInfo),
// syncs it, records its metadata (stamped with the temp file's inode, size and mtime, which the
// rename keeps), renames it over the key's file and syncs the directory: a failed or interrupted
// PUT never leaves a torn file, nor removes the file it was replacing, and a file in place always
// has its record (a database that refuses it fails the PUT before the rename). Parent directories
// are made as needed; a DELETE removes the directories it left empty, up to the bucket (never the
// bucket).
//
// Listing: in S3 order (the byte order of whole keys, so "a-b" comes before "a/b"), reading one
// directory at a time (memory bounded by the largest directory, never by the tree), and each page
// seeks straight to where the previous one stopped (plain_list.cc).
//
// Symbolic links and other non-regular entries beneath the root are never followed nor served
// (the Volume resolves every path beneath its root): a symlink is neither an object nor a prefix.
//
// Thread safety: every method may be called concurrently.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "libstore/object/object_store.h"
#include "libstore/plain/meta_store.h"
#include "libstore/plain/mime_types.h"
#include "libstore/volume/volume.h"

namespace cairn {

class RateLimiter;
namespace plain {
class TempFile;
struct Digests;
class UploadStore;
struct UploadRecord;
struct PartRecord;
}  // namespace plain

struct PlainDirOptions {
  // Serve without ever writing to the directory: every write is kAccessDenied, no .cairn/ is
  // made. The metadata database (the hash cache, then) lives at db_path, which must then be in a
  // state directory outside the served one (--state-dir), or in memory (db_path "").
  bool read_only = false;
  // No fsync at all, whatever PutOptions says (scratch directories).
  bool no_fsync = false;
  // The metadata database file (an OS path: SQLite does its own I/O), e.g. "<root>/.cairn/meta.db",
  // or one under a state directory when the served directory is read-only; Open makes its
  // directory when missing. "": in memory (nothing survives the process).
  std::string db_path;
  // Content types of files that did not arrive through cairn, by extension. Not owned; must
  // outlive the store. nullptr: every such file is kDefaultContentType.
  const MimeTypes* mime = nullptr;
};

// What a HashPass did.
struct HashPassStats {
  uint64_t files_hashed = 0;
  uint64_t bytes_hashed = 0;
  uint64_t files_changed = 0;  // changed while being hashed: nothing recorded
};

class PlainDir : public ObjectStore {
 public:
  // vol is the served directory (not owned; must outlive the store). Unless read-only, makes
  // .cairn/tmp and removes temp files a crash left there.
  static Result<std::unique_ptr<PlainDir>> Open(Volume* vol, PlainDirOptions opts);
  ~PlainDir() override;

  Status MakeBucket(const std::string& bucket) override;
  Status RemoveBucket(const std::string& bucket, bool force) override;
  Result<std::vector<BucketInfo>> ListBuckets() override;
  Status BucketExists(const std::string& bucket) override;

  Result<ObjectInfo> PutObject(const std::string& bucket, const std::string& key, Source& src,
                               const PutOptions& opts) override;
  // Opens the file once and answers from that open file: the info (stamped from the open handle)
  // and every byte are of the file that was opened, even if another program replaces it
  // meanwhile. Conditions are decided on that file's ETag and mtime. A read of the whole file
  // records the MD5 of the bytes read when the file did not change meanwhile, so its ETag is a
  // real MD5 from then on (and info().etag becomes it once the last byte has been read).
  // ZeroCopy() offers the open file's descriptor on a LocalVolume (none for a folder marker, nor
  // on volumes without descriptors); it does not record the MD5.
  Result<std::unique_ptr<ObjectReader>> OpenObject(const std::string& bucket,
                                                   const std::string& key, const GetOptions& opts,
                                                   ObjectInfo* verdict = nullptr) override;
  Result<ObjectInfo> HeadObject(const std::string& bucket, const std::string& key,
                                const GetOptions& opts = {},
                                ObjectInfo* verdict = nullptr) override;
  Status DeleteObject(const std::string& bucket, const std::string& key) override;
  // Copies from the source file opened once (its version fixed, its conditions decided on it)
  // into a temp file under .cairn/tmp with copy_file_range (WritableFile::AppendFrom), then
  // renames it into place and records the metadata, as a PUT. The bytes go through a buffer
  // instead, hashed on the way, when the source's MD5 is not known yet or a checksum must be
  // computed (another algorithm than the source's, or the source has none); a FULL_OBJECT
  // checksum of the source's algorithm is carried over, without reading the bytes when they are
  // copied by copy_file_range (the source's record is stamped with the very file copied, and a
  // source that changes while it is copied fails the copy: kIOError, retryable), checked when
  // they go through the buffer (kBadDigest). A copy onto itself (kReplace only) rewrites the
  // metadata record alone, keeping the file, its MD5 and its checksum (reading the file once if
  // another checksum algorithm is asked for). A folder marker on either side goes through
  // PutObject.
  Result<ObjectInfo> CopyObject(const std::string& src_bucket, const std::string& src_key,
                                const std::string& dst_bucket, const std::string& dst_key,
                                const CopyOptions& opts) override;
  Result<ListResult> ListObjects(const std::string& bucket, const ListOptions& opts) override;

  // Multipart uploads (plain_multipart.cc). Each part streams into a temp file, is checked
  // (Content-MD5, x-amz-checksum-*, payload hash) and synced, then renamed to
  // .cairn/uploads/<upload id>/ and recorded in the UploadStore (upload_store.h: SQLite, so an
  // upload survives restarts); nothing under .cairn/ is ever an object or listed. Parts of a
  // uniform size go into the upload's assembly file: straight from the body into their slot when
  // the request declared a size that fits it (UploadPartToSlot: each byte written once), else
  // copied there once staged (AssemblePart); Complete renames that file into place when the parts
  // it names fit it; otherwise it assembles
  // the parts with copy_file_range (WritableFile::AppendFrom) into a temp file under .cairn/tmp.
  // Either way the file is synced and renamed into place as a PUT does (CommitTemp): a crash
  // leaves no object or the whole one, and the version it replaces stays whole until the rename.
  // The multipart ETag is kept in the object's record; its checksum and part sizes in the
  // UploadStore. A completed upload's answer is kept for a day for a retried Complete.
  Result<MultipartUpload> CreateMultipartUpload(const std::string& bucket, const std::string& key,
                                                const CreateMultipartOptions& opts) override;
  Result<PartInfo> UploadPart(const std::string& bucket, const std::string& key,
                              const std::string& upload_id, int part_number, Source& src,
                              const UploadPartOptions& opts) override;
  Result<ObjectInfo> CompleteMultipartUpload(const std::string& bucket, const std::string& key,
                                             const std::string& upload_id,
                                             const std::vector<CompletedPart>& parts,
                                             const CompleteMultipartOptions& opts) override;
  Status AbortMultipartUpload(const std::string& bucket, const std::string& key,
                              const std::string& upload_id) override;
  Result<ListPartsResult> ListParts(const std::string& bucket, const std::string& key,
                                    const std::string& upload_id,
                                    const ListPartsOptions& opts) override;
  Result<ListUploadsResult> ListMultipartUploads(const std::string& bucket,
                                                 const ListUploadsOptions& opts) override;
  // UploadPartCopy: the part file is made with copy_file_range from the source's file (a
  // reflink where the file system can); its bytes are read once for the part's MD5 and checksum
  // unless the whole source is copied and its MD5 is known (and no checksum is needed).
  Result<PartInfo> UploadPartCopy(const std::string& src_bucket, const std::string& src_key,
                                  const std::string& bucket, const std::string& key,
                                  const std::string& upload_id, int part_number,
                                  const CopyPartOptions& opts) override;
  // Aborts the open uploads initiated more than older_than_ns ago (by the real clock).
  Result<uint64_t> AbortStaleUploads(int64_t older_than_ns) override;

  // Walks every bucket and hashes each file whose MD5 is not known, reading at most
  // bytes_per_second (0: unlimited), until done or until *stop becomes true (checked between
  // reads). A file that changes while it is read is left for a later pass. Safe beside every other
  // call; the server runs it in a thread of its own (--hash-rate).
  Result<HashPassStats> HashPass(uint64_t bytes_per_second, const std::atomic<bool>* stop);

  MetaStore& meta() { return *meta_; }

  // What the speculative assembly of multipart uploads did since this PlainDir was opened (for
  // tests and diagnostics): parts copied into an assembly file as they arrived, Completes that
  // took the assembly file, the parts those had to copy into it themselves, and Completes that
  // copied every part into a new file.
  struct AssemblyCounters {
    std::atomic<uint64_t> parts_in_slot{0};  // streamed straight into their slot, never staged
    std::atomic<uint64_t> slot_parts_verified{0};  // slot parts Complete read back (MD5) first
    std::atomic<uint64_t> parts_assembled{0};
    std::atomic<uint64_t> parts_copied_at_complete{0};
    std::atomic<uint64_t> fast_completes{0};
    std::atomic<uint64_t> full_copies{0};
  };
  const AssemblyCounters& assembly_counters() const { return assembly_counters_; }

 private:
  struct Opened;  // an object opened for reading (plain_reader.h)
  class Reader;   // its ObjectReader (plain_reader.h)
  class Lister;   // one listing page (plain_list.cc)

  PlainDir(Volume* vol, PlainDirOptions opts, std::unique_ptr<MetaStore> meta);

  Status CheckWritable(const char* what) const;
  // kBucketNotFound unless bucket is a directory with a valid bucket name.
  Status CheckBucket(const std::string& bucket);
  // The object at bucket/key: its file opened (markers: none) and its info filled.
  // (plain_read.cc, with Describe and IsMarkerDir.)
  Result<Opened> Open(const std::string& bucket, const std::string& key, bool open_file);
  // The object at path as a PUT's conditions see it (under the key's lock): its info, or
  // nullopt when the key has no object.
  Result<std::optional<ObjectInfo>> Current(const std::string& bucket, const std::string& key,
                                            const std::string& path, bool marker);
  // CheckPutConditions against Current(); Ok at once when opts has no condition.
  Status CheckPutConditionsAt(const std::string& bucket, const std::string& key,
                              const std::string& path, bool marker, const PutOptions& opts);
  // ObjectInfo of an entry: from its record when current, else derived.
  Result<ObjectInfo> Describe(const std::string& bucket, const std::string& key,
                              const FileInfo& fi);
  // Refuses a key whose parent path holds a file, or (not a marker) whose path is a directory.
  Status CheckNoConflict(const std::string& key, const std::string& path, bool marker);
  // Whether the directory at path (described by fi) is the folder marker key: it has a record
  // (a PUT of the marker made it) or it is empty.
  Result<bool> IsMarkerDir(const std::string& bucket, const std::string& key,
                           const std::string& path, const FileInfo& fi);
  // Renames the finished temp file over path and records its metadata, under the key's lock and
  // after opts' conditions passed there (plain_dir.cc says in which order, and why). ahead: the
  // record's Put, announced by the caller once the body is in the temp file (MetaStore::
  // AnnouncePut: other uploads' stamp completions may wait for its transaction).
  Result<ObjectInfo> CommitTemp(const std::string& bucket, const std::string& key,
                                const std::string& path, plain::TempFile& tmp,
                                const PutOptions& opts, const plain::Digests& digests,
                                uint64_t size, AnnouncedPut& ahead);
  // A copy onto itself: the record of the file opened in o, with po's metadata and the checksum
  // of algorithm `want` (kNone: none; the one recorded when it is of that algorithm, else read
  // from the file) (plain_copy.cc).
  Result<ObjectInfo> RewriteRecord(const std::string& bucket, const std::string& key,
                                   const std::string& path, const Opened& o, const PutOptions& po,
                                   ChecksumAlgorithm want);
  Status PutMarker(const std::string& bucket, const std::string& key, const std::string& path,
                   const PutOptions& opts, const plain::Digests& digests, ObjectInfo* info);
  // Removes empty directories from dir up to (not including) the bucket directory.
  void PruneEmptyDirs(const std::string& bucket, std::string dir);
  bool Sync(const PutOptions& o) const { return o.fsync && !opts_.no_fsync; }
  bool Sync(bool fsync) const { return fsync && !opts_.no_fsync; }
  // The upload of bucket/key with that id, open (else kUploadNotFound), after the bucket was
  // checked (plain_multipart.cc).
  Result<plain::UploadRecord> OpenUpload(const std::string& bucket, const std::string& key,
                                         const std::string& upload_id, bool want_open);
  std::mutex& UploadLock(const std::string& upload_id);
  // UploadPart's last step, shared with UploadPartCopy: under the upload's lock (the upload still
  // open, else kUploadNotFound) the finished part file tmp moves into the upload's staging
  // directory and p (its number, ETag, size, checksum) is recorded, replacing an earlier part of
  // that number (whose file is removed). tmp is removed on failure.
  Result<PartInfo> StagePart(const std::string& bucket, const std::string& key,
                             const std::string& upload_id, plain::TempFile& tmp,
                             plain::PartRecord& p, bool fsync);
  // The speculative assembly (plain_multipart.cc): after part p is staged, copies it into the
  // upload's assembly file at offset (n-1)*part_size and marks it assembled by this session, when
  // it fits (part_size != 0, p.size <= part_size) and is still the part's current version. Runs
  // in the UploadPart request's thread; any failure only leaves the slot unmarked.
  void AssemblePart(const std::string& upload_id, const plain::PartRecord& p,
                    uint64_t part_size);
  // UploadPart's direct path (plain_multipart.cc): when the part's declared size fits the slot of
  // a known S and the slot is free (no part of that number recorded, nobody writing it), streams
  // the body into the assembly file at (n-1)*S, hashing as it goes, and records the part as held
  // by its slot only once every byte is written (and synced). nullopt: the slot is not usable,
  // nothing was read from src (the caller stages the part). An error: the part is not recorded.
  Result<std::optional<PartInfo>> UploadPartToSlot(const std::string& bucket,
                                                   const std::string& key,
                                                   const std::string& upload_id, int part_number,
                                                   uint64_t part_size, Source& src,
                                                   BodyChecksums& sums, const ExpectedDigests& want,
                                                   uint64_t declared, bool fsync);
  // A claim on one slot (upload id, part number) by one writer at a time; false: claimed already.
  bool ClaimSlot(const std::string& upload_id, int part_number);
  void ReleaseSlot(const std::string& upload_id, int part_number);
  // This session's open assembly file of the upload; made (empty) when absent and create is set,
  // or when the file on disk holds no recorded part; nullptr when there is none or it cannot be
  // made (a file holding parts recorded before, by another session or before a failed Complete,
  // is never reopened: WritableFile cannot reopen without truncating). Dropped when the upload
  // ends.
  std::shared_ptr<WritableFile> AssemblyFile(const std::string& upload_id, bool create);
  void DropAssemblyFile(const std::string& upload_id);
  // After this session wrote into the open assembly file: remembers its latest stamp (inode,
  // ctime), and at Complete (no writer in flight) tells whether anything else changed it since.
  void NoteAssemblyWrite(const std::string& upload_id);
  bool AssemblyUnchanged(const std::string& upload_id);
  // Copies the staged part p (opened as in) to offset at of out, through this thread's buffer.
  Status CopyIntoSlot(const std::string& upload_id, const plain::PartRecord& p, ReadableFile& in,
                      WritableFile& out, uint64_t at);
  // Complete's test of the speculative assembly (plain_multipart.cc says when it is usable; sets
  // missing[i] for the chosen parts not in their slot yet), its last steps on the assembly file
  // (unmark, copy the missing parts, check its size, sync), and the full copy of the
  // chosen parts into the file at path otherwise.
  bool AssemblyUsable(const std::string& upload_id, const plain::UploadRecord& up,
                      const std::vector<const plain::PartRecord*>& chosen,
                      const std::vector<bool>& trusted, std::vector<bool>* missing);
  Status FinishAssembly(const std::string& upload_id, plain::TempFile& file,
                        const std::vector<const plain::PartRecord*>& chosen,
                        const std::vector<bool>& missing, uint64_t size, const PutOptions& po);
  // trusted[i]: chosen[i], if held by its slot, is known to this session as written (else its
  // slot is read back and its MD5 checked against its ETag first: kDataLoss when it differs).
  Status CopyParts(const std::string& upload_id, const plain::UploadRecord& up,
                   const std::vector<const plain::PartRecord*>& chosen,
                   const std::vector<bool>& trusted, const std::string& path,
                   const PutOptions& po);
  // Whether part p lives in its slot of the upload's assembly file (no staged file of its own).
  static bool InSlot(const std::string& upload_id, const plain::PartRecord& p);
  Status VerifySlot(const std::string& upload_id, const plain::PartRecord& p, ReadableFile& in,
                    uint64_t at);
  // Shared by AssemblePart, exclusive for Complete, Abort and bucket removal: nobody writes into an
  // upload's assembly file while it is consumed or removed.
  std::shared_mutex& AssemblyLock(const std::string& upload_id);
  // Forgets every multipart upload of a removed bucket and removes their staged parts.
  Status DropUploads(const std::string& bucket);
  // Describe's addition for a multipart object (its record's ETag has a '-'): the checksum.
  Status DescribeMultipart(const std::string& bucket, const std::string& key,
                           const FileStamp& stamp, ObjectInfo* info);
  std::mutex& KeyLock(const std::string& path);
  Status HashFile(const std::string& bucket, const std::string& key, RateLimiter* limiter,
                  const std::atomic<bool>* stop, HashPassStats* stats);

  Volume* vol_;
  PlainDirOptions opts_;
  std::unique_ptr<MetaStore> meta_;
  static constexpr size_t kKeyLocks = 64;
  std::mutex key_locks_[kKeyLocks];  // serialize commit + record of one path
  std::unique_ptr<plain::UploadStore> uploads_;
  std::mutex upload_locks_[kKeyLocks];  // a part's commit against Complete and Abort
  std::shared_mutex assembly_locks_[kKeyLocks];
  // This instance's id in the parts' assembled marks: a mark left by another (before a restart
  // or a crash, whose copy may not have reached the disk) is not trusted.
  const std::string session_ = TempName("");
  std::mutex assembly_files_mu_;
  // The assembly files this session opened, by upload id: kept open (WritableFile has no way to
  // reopen a file without truncating it) until the upload is completed or aborted.
  struct AssemblyEntry {
    std::shared_ptr<WritableFile> file;
    uint64_t ino = 0;  // the stamp after this session's latest write (0: none yet)
    int64_t ctime_ns = 0;
  };
  std::unordered_map<std::string, AssemblyEntry> assembly_files_;
  // The slots being written (upload id, '/', part number), under assembly_files_mu_.
  std::unordered_set<std::string> slot_claims_;
  AssemblyCounters assembly_counters_;
};

}  // namespace cairn
