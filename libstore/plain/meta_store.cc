#include "libstore/plain/meta_store.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "libstore/common/hash.h"

namespace cairn {

FileStamp FileStamp::Of(const FileInfo& fi) {
  FileStamp s;
  s.dev = fi.dev;
  s.ino = fi.ino;
  if (fi.kind != FileKind::kDir) {
    s.size = fi.size;
    s.mtime_ns = fi.mtime_ns;
    s.ctime_ns = fi.ctime_ns;
  }
  return s;
}

bool FileStamp::Describes(const FileStamp& file) const {
  if (ctime_ns != kCtimePending) return *this == file;
  return dev == file.dev && ino == file.ino && size == file.size && mtime_ns == file.mtime_ns;
}

std::string PlainEtag(const FileStamp& st, const std::string& md5_hex) {
  if (!md5_hex.empty()) return md5_hex;
  // An MD5 of the stamp's fields, little-endian: stable while the file is unchanged.
  uint8_t bytes[40];
  const uint64_t f[5] = {st.dev, st.ino, st.size, uint64_t(st.mtime_ns), uint64_t(st.ctime_ns)};
  for (int i = 0; i < 5; ++i) {
    for (int b = 0; b < 8; ++b) bytes[i * 8 + b] = uint8_t(f[i] >> (8 * b));
  }
  Md5Stream md5;
  md5.Update(bytes, sizeof(bytes));
  return md5.FinalHex() + "-1";
}

std::string EncodeUserMeta(const std::vector<std::pair<std::string, std::string>>& meta) {
  std::string out;
  for (const auto& [k, v] : meta) {
    out += k;
    out += '\0';
    out += v;
    out += '\0';
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> DecodeUserMeta(const std::string& bytes) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t pos = 0;
  while (pos < bytes.size()) {
    size_t k_end = bytes.find('\0', pos);
    if (k_end == std::string::npos) break;
    size_t v_end = bytes.find('\0', k_end + 1);
    if (v_end == std::string::npos) break;
    out.emplace_back(bytes.substr(pos, k_end - pos), bytes.substr(k_end + 1, v_end - k_end - 1));
    pos = v_end + 1;
  }
  return out;
}

std::string EncodeChecksums(const ObjectInfo& info) {
  if (info.checksum.algorithm == ChecksumAlgorithm::kNone) return "";
  return std::string(Name(info.checksum.algorithm)) + "=" + info.ChecksumHeaderValue();
}

void DecodeChecksums(const std::string& text, ObjectInfo* info) {
  info->checksum = ChecksumValue();
  info->checksum_type = ChecksumType::kNone;
  info->checksum_parts = 0;
  const size_t eq = text.find('=');
  if (eq == std::string::npos) return;
  auto alg = ChecksumAlgorithmFromName(std::string_view(text).substr(0, eq));
  if (!alg.ok()) return;
  std::string_view value = std::string_view(text).substr(eq + 1);
  uint32_t parts = 0;
  if (const size_t dash = value.find('-'); dash != std::string_view::npos) {
    const std::string_view n = value.substr(dash + 1);
    if (n.empty() || n.size() > 5) return;
    for (char c : n) {
      if (c < '0' || c > '9') return;
      parts = parts * 10 + uint32_t(c - '0');
    }
    if (parts == 0 || parts > 10000) return;
    value = value.substr(0, dash);
  }
  auto v = ParseChecksum(*alg, value);
  if (!v.ok()) return;
  info->checksum = *v;
  info->checksum_type = parts != 0 ? ChecksumType::kComposite : ChecksumType::kFullObject;
  info->checksum_parts = parts;
}

Result<std::unique_ptr<MetaStore>> MetaStore::Open(const std::string& path, bool durable) {
  ASSIGN_OR_RETURN(auto db, SqliteDb::Open(path));
  if (durable) RETURN_IF_ERROR(db->Exec("PRAGMA synchronous=FULL;"));
  std::unique_ptr<MetaStore> ms(new MetaStore(std::move(db), durable, path.empty()));
  RETURN_IF_ERROR(ms->Prepare());
  // A database file is cached only when its commits can be seen (WAL mode): another process may
  // change it. One in memory is this connection's alone.
  ms->cache_on_ = ms->in_memory_ || ms->db_->MapWalIndex();
  return ms;
}

Status MetaStore::Prepare() {
  // One row per object key. Version 1 of the schema (user_version says so).
  RETURN_IF_ERROR(
      db_->Exec("CREATE TABLE IF NOT EXISTS objects ("
                " bucket TEXT NOT NULL, key BLOB NOT NULL,"
                " dev INTEGER NOT NULL, ino INTEGER NOT NULL, size INTEGER NOT NULL,"
                " mtime_ns INTEGER NOT NULL, ctime_ns INTEGER NOT NULL,"
                " uploaded INTEGER NOT NULL, content_type TEXT NOT NULL, user_meta BLOB NOT NULL,"
                " checksums TEXT NOT NULL, md5 TEXT NOT NULL,"
                " PRIMARY KEY (bucket, key)) WITHOUT ROWID;"));
  // Set once, not at every start: a write needs room in the WAL, and a server must start (to let
  // its clients delete) on a full disk.
  {
    ASSIGN_OR_RETURN(auto version, db_->Prepare("PRAGMA user_version"));
    ASSIGN_OR_RETURN(bool row, version->Step());
    const bool set = row && version->Int(0) == 1;
    version->Reset();
    if (!set) RETURN_IF_ERROR(db_->Exec("PRAGMA user_version=1;"));
  }
  ASSIGN_OR_RETURN(
      get_, db_->Prepare("SELECT dev, ino, size, mtime_ns, ctime_ns, uploaded, content_type,"
                         " user_meta, checksums, md5 FROM objects WHERE bucket=?1 AND key=?2"));
  ASSIGN_OR_RETURN(put_, db_->Prepare("INSERT OR REPLACE INTO objects VALUES"
                                      " (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"));
  ASSIGN_OR_RETURN(del_, db_->Prepare("DELETE FROM objects WHERE bucket=?1 AND key=?2"));
  ASSIGN_OR_RETURN(del_bucket_, db_->Prepare("DELETE FROM objects WHERE bucket=?1"));
  ASSIGN_OR_RETURN(count_, db_->Prepare("SELECT COUNT(*) FROM objects"));
  ASSIGN_OR_RETURN(complete_, db_->Prepare("UPDATE objects SET ctime_ns=?7 WHERE bucket=?1 AND"
                                           " key=?2 AND dev=?3 AND ino=?4 AND size=?5 AND"
                                           " mtime_ns=?6 AND ctime_ns=?8"));
  ASSIGN_OR_RETURN(begin_, db_->Prepare("BEGIN IMMEDIATE"));
  ASSIGN_OR_RETURN(commit_, db_->Prepare("COMMIT"));
  ASSIGN_OR_RETURN(rollback_, db_->Prepare("ROLLBACK"));
  return Status::Ok();
}

Result<std::optional<ObjectRecord>> MetaStore::RowLocked(const std::string& bucket,
                                                         const std::string& key) {
  get_->Reset();
  get_->Bind(1, bucket);
  get_->BindBlob(2, key);
  ASSIGN_OR_RETURN(bool row, get_->Step());
  if (!row) return std::optional<ObjectRecord>();
  ObjectRecord r;
  r.stamp.dev = uint64_t(get_->Int(0));
  r.stamp.ino = uint64_t(get_->Int(1));
  r.stamp.size = uint64_t(get_->Int(2));
  r.stamp.mtime_ns = get_->Int(3);
  r.stamp.ctime_ns = get_->Int(4);
  r.uploaded = get_->Int(5) != 0;
  r.content_type = get_->Text(6);
  r.user_meta = DecodeUserMeta(get_->Text(7));
  r.checksums = get_->Text(8);
  r.md5_hex = get_->Text(9);
  get_->Reset();
  return std::optional<ObjectRecord>(std::move(r));
}

Result<std::optional<ObjectRecord>> MetaStore::GetLocked(const std::string& bucket,
                                                         const std::string& key,
                                                         const FileStamp& stamp, CachedRow* row) {
  ASSIGN_OR_RETURN(std::optional<ObjectRecord> r, RowLocked(bucket, key));
  if (r && !r->stamp.Describes(stamp)) {
    // Stale: the file changed since. Forget it now rather than on some sweep.
    if (r->stamp.ctime_ns != FileStamp::kCtimePending) {
      RETURN_IF_ERROR(DeleteLocked(bucket, key));
    } else if (row != nullptr) {
      *row = std::make_shared<const std::optional<ObjectRecord>>(std::move(r));
    }
    return std::optional<ObjectRecord>();
  }
  if (row != nullptr) *row = std::make_shared<const std::optional<ObjectRecord>>(r);
  return r;
}

bool MetaStore::Label(CacheLabel* out) const {
  if (!cache_on_) return false;
  out->writes = writes_.load(std::memory_order_acquire);
  if (in_memory_) return true;
  return db_->ReadWalMark(&out->wal);
}

Result<std::optional<ObjectRecord>> MetaStore::Get(const std::string& bucket,
                                                   const std::string& key, const FileStamp& stamp) {
  // The label is read before the row (from the cache or the database): a row read after it is
  // at least as new as what it labels, and a commit after it changes the label that the next
  // Get reads, which then empties the cache.
  CacheLabel label;
  if (!Label(&label)) {
    std::lock_guard<std::mutex> l(mu_);
    return GetLocked(bucket, key, stamp);
  }
  std::string name;
  name.reserve(bucket.size() + 1 + key.size());
  name.append(bucket).push_back('/');  // bucket names hold no '/'
  name.append(key);
  CachedRow row;
  {
    std::lock_guard<std::mutex> l(cache_mu_);
    if (cache_label_ == label) {
      if (auto it = cache_.find(name); it != cache_.end()) row = it->second;
    } else {
      cache_.clear();
      cache_label_ = label;
    }
  }
  if (row && (!*row || (*row)->stamp.Describes(stamp))) {
    cache_hits_.fetch_add(1, std::memory_order_relaxed);
    return *row;
  }
  // Not cached, or stale for this file (the database forgets that row now).
  Result<std::optional<ObjectRecord>> got = std::optional<ObjectRecord>();
  row.reset();
  {
    std::lock_guard<std::mutex> l(mu_);
    got = GetLocked(bucket, key, stamp, &row);
  }
  if (got.ok() && row) {
    std::lock_guard<std::mutex> l(cache_mu_);
    if (cache_label_ == label) {
      if (cache_.size() >= kCacheRows) cache_.clear();
      cache_[std::move(name)] = std::move(row);
    }
  }
  return got;
}

Status MetaStore::PutLocked(const std::string& bucket, const std::string& key,
                            const ObjectRecord& rec) {
  put_->Reset();
  put_->Bind(1, bucket);
  put_->BindBlob(2, key);
  put_->Bind(3, int64_t(rec.stamp.dev));
  put_->Bind(4, int64_t(rec.stamp.ino));
  put_->Bind(5, int64_t(rec.stamp.size));
  put_->Bind(6, rec.stamp.mtime_ns);
  put_->Bind(7, rec.stamp.ctime_ns);
  put_->Bind(8, int64_t(rec.uploaded ? 1 : 0));
  put_->Bind(9, rec.content_type);
  put_->BindBlob(10, EncodeUserMeta(rec.user_meta));
  put_->Bind(11, rec.checksums);
  put_->Bind(12, rec.md5_hex);
  Status s = put_->Run();
  put_->Reset();
  Wrote();
  return s;
}

Status MetaStore::Put(const std::string& bucket, const std::string& key, const ObjectRecord& rec) {
  return Put(bucket, key, rec, false);
}

void MetaStore::PutBatchLocked(std::span<PutRequest* const> batch) {
  // The completions this transaction writes: those waiting now (later ones wait for the next).
  std::vector<Completion> completions;
  {
    std::lock_guard<std::mutex> l(pending_mu_);
    completions.swap(waiting_);
  }
  // A lone Put with no completion waiting and no previous record to read: the statement's own
  // transaction.
  if (batch.size() == 1 && completions.empty() && batch[0]->previous == nullptr) {
    PutRequest& r = *batch[0];
    r.result = PutLocked(*r.bucket, *r.key, *r.rec);
    r.decided = true;
    return;
  }
  // One transaction, in arrival order: the waiting completions first (so that one for a key's
  // previous upload cannot touch the new record, and a previous record is read as completed),
  // then each request's read of its previous record and its row. One commit (with durable_, one
  // flush of the WAL) makes every record of the batch durable before any of its Puts returns.
  Status s = begin_->Run();
  begin_->Reset();
  for (size_t i = 0; s.ok() && i < completions.size(); ++i) {
    s = RunComplete(completions[i].bucket, completions[i].key, completions[i].stamp);
  }
  for (size_t i = 0; s.ok() && i < batch.size(); ++i) {
    PutRequest& r = *batch[i];
    if (r.previous != nullptr) {
      auto got = RowLocked(*r.bucket, *r.key);
      if (got.ok()) {
        *r.previous = std::move(*got);
      } else {
        s = got.status();
      }
    }
    if (s.ok()) s = PutLocked(*r.bucket, *r.key, *r.rec);
  }
  if (s.ok()) {
    s = commit_->Run();
    commit_->Reset();
  }
  if (s.ok()) {
    for (PutRequest* r : batch) {
      r->result = Status::Ok();
      r->decided = true;
    }
    if (batch.size() > 1) group_commits_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  // Nothing of it stays (a COMMIT that failed leaves the transaction open); the completions wait
  // on, and are written on their own when no other Put is announced (EndAnnouncedLocked).
  rollback_->Run().IgnoreError();
  rollback_->Reset();
  {
    // Back in front of those that came meanwhile: they wait on in their order.
    std::lock_guard<std::mutex> l(pending_mu_);
    completions.insert(completions.end(), std::make_move_iterator(waiting_.begin()),
                       std::make_move_iterator(waiting_.end()));
    waiting_.swap(completions);
  }
  if (batch.size() == 1) {
    batch[0]->result = std::move(s);
    batch[0]->decided = true;
    return;
  }
  // Each request again on its own, so that one that cannot be written fails alone (as it would
  // have without the others).
  for (PutRequest* const& r : batch) PutBatchLocked(std::span<PutRequest* const>(&r, 1));
}

void MetaStore::WriteBatchLocked(std::span<PutRequest* const> batch) noexcept {
  std::string what;
  try {
    if (batch_hook_) batch_hook_(batch.size());
    PutBatchLocked(batch);
    return;
  } catch (const std::exception& e) {
    try {
      what = e.what();
    } catch (...) {
    }
  } catch (...) {
  }
  // The batch threw (an allocation that failed, a hook of a test): whatever transaction it had
  // open is rolled back (without one, ROLLBACK only says so), so none of its undecided records
  // stays and each of those Puts fails (a Put already decided, by its own transaction after the
  // batch's failed, keeps its result). The completions it had taken are dropped: their records
  // stay pending, as when a completion's write fails. The cache's rows are dropped too (Wrote).
  rollback_->Run().IgnoreError();
  rollback_->Reset();
  Wrote();
  Status failure;
  try {
    failure = IOError("metadata store " + db_->path() + ": a batch of records failed (" +
                      (what.empty() ? std::string("an exception") : what) +
                      "); the record was not written");
  } catch (...) {
    failure = Status(Code::kIOError, "out of memory");  // short enough to need no allocation
  }
  for (PutRequest* r : batch) {
    if (!r->decided) r->result = failure;
  }
}

void MetaStore::SetBatchHookForTest(std::function<void(size_t)> hook) {
  std::lock_guard<std::mutex> l(mu_);
  batch_hook_ = std::move(hook);
}

size_t MetaStore::QueuedPutsForTest() {
  std::lock_guard<std::mutex> ql(queue_mu_);
  return queue_.size();
}

Status MetaStore::Put(const std::string& bucket, const std::string& key, const ObjectRecord& rec,
                      bool announced, std::optional<ObjectRecord>* previous) {
  PutRequest req;
  req.bucket = &bucket;
  req.key = &key;
  req.rec = &rec;
  req.previous = previous;
  req.announced = announced;
  // Group commit: the Puts that arrive while another batch holds the connection queue up; one of
  // them then writes them all in one transaction and each returns once its own record is
  // committed, as a Put of its own would. With durable_ the wait is the WAL's flush; without, it
  // is the transaction itself (6 fcntl locks and a WAL write each), which 16 concurrent small
  // PUTs used to take one after the other, each waking the next through the mutex. Wake-ups are
  // aimed and made outside every lock the woken thread takes next: a batch's end wakes its own
  // requests, and hands the lead to the first one queued since (a notify_all under queue_mu_
  // woke every waiter into a wait for that mutex, most of them to sleep again).
  req.wake = std::make_shared<PutRequest::Wake>();
  bool lead = false;
  {
    std::lock_guard<std::mutex> ql(queue_mu_);
    queue_.push_back(&req);
    if (!leader_) lead = leader_ = true;
  }
  if (!lead) {
    std::unique_lock<std::mutex> wl(req.wake->mu);
    req.wake->cv.wait(wl, [&] { return req.wake->done || req.wake->lead; });
    if (req.wake->done) return std::move(req.result);
  }
  // This thread leads: req is still queued (a leader takes the queue only under mu_, and none
  // other runs until this one hands on), so the batch below holds it.
  std::vector<PutRequest*> batch;
  {
    std::lock_guard<std::mutex> l(mu_);
    {
      // What queued while this thread waited for the connection goes too.
      std::lock_guard<std::mutex> ql(queue_mu_);
      batch.swap(queue_);
    }
    WriteBatchLocked(batch);
    for (PutRequest* r : batch) {
      if (r->announced) EndAnnouncedLocked();
    }
  }
  std::shared_ptr<PutRequest::Wake> next;
  {
    std::lock_guard<std::mutex> ql(queue_mu_);
    if (queue_.empty()) {
      leader_ = false;
    } else {
      next = queue_.front()->wake;
    }
  }
  // Nothing from here on allocates (or throws): every request of the batch is woken and the lead
  // handed on, whatever happened to the batch.
  for (PutRequest* r : batch) {
    if (r == &req) continue;
    std::shared_ptr<PutRequest::Wake> w = r->wake;  // r may end as soon as it sees done
    {
      std::lock_guard<std::mutex> wl(w->mu);
      w->done = true;
    }
    w->cv.notify_one();
  }
  if (next) {
    {
      std::lock_guard<std::mutex> wl(next->mu);
      next->lead = true;
    }
    next->cv.notify_one();
  }
  return std::move(req.result);
}

void MetaStore::AnnouncePut() {
  std::lock_guard<std::mutex> l(pending_mu_);
  ++announced_;
}

std::vector<MetaStore::Completion> MetaStore::EndAnnounced() noexcept {
  std::vector<Completion> flush;
  std::lock_guard<std::mutex> l(pending_mu_);
  if (--announced_ == 0) flush.swap(waiting_);
  return flush;
}

void MetaStore::WithdrawPut() noexcept {
  std::vector<Completion> flush = EndAnnounced();
  if (flush.empty()) return;  // the common case: the connection is not needed
  std::lock_guard<std::mutex> l(mu_);
  FlushCompletionsNoThrowLocked(std::move(flush));
}

void MetaStore::EndAnnouncedLocked() noexcept {
  std::vector<Completion> flush = EndAnnounced();
  if (!flush.empty()) FlushCompletionsNoThrowLocked(std::move(flush));
}

void MetaStore::FlushCompletionsNoThrowLocked(std::vector<Completion> batch) noexcept {
  try {
    FlushCompletionsLocked(std::move(batch)).IgnoreError();
  } catch (...) {
    // As a failed write: the records stay pending. Whatever transaction was open goes, and a
    // durable connection is durable again.
    rollback_->Run().IgnoreError();
    rollback_->Reset();
    Wrote();
    if (durable_) RestoreFullSyncLocked();
  }
}

size_t MetaStore::WaitingCompletions() {
  std::lock_guard<std::mutex> l(pending_mu_);
  return waiting_.size();
}

Status MetaStore::RunComplete(const std::string& bucket, const std::string& key,
                              const FileStamp& stamp) {
  complete_->Reset();
  complete_->Bind(1, bucket);
  complete_->BindBlob(2, key);
  complete_->Bind(3, int64_t(stamp.dev));
  complete_->Bind(4, int64_t(stamp.ino));
  complete_->Bind(5, int64_t(stamp.size));
  complete_->Bind(6, stamp.mtime_ns);
  complete_->Bind(7, stamp.ctime_ns);
  complete_->Bind(8, FileStamp::kCtimePending);
  Status s = complete_->Run();
  complete_->Reset();
  Wrote();
  return s;
}

Status MetaStore::FlushCompletionsLocked(std::vector<Completion> batch) {
  // (Executed each time, not prepared once: SQLite applies this pragma when it compiles it.)
  if (durable_) RETURN_IF_ERROR(db_->Exec("PRAGMA synchronous=NORMAL;"));
  Status s;
  if (batch.size() == 1) {
    s = RunComplete(batch[0].bucket, batch[0].key, batch[0].stamp);
  } else {
    s = begin_->Run();
    begin_->Reset();
    for (size_t i = 0; s.ok() && i < batch.size(); ++i) {
      s = RunComplete(batch[i].bucket, batch[i].key, batch[i].stamp);
    }
    if (s.ok()) {
      s = commit_->Run();
      commit_->Reset();
    }
    if (!s.ok()) {
      rollback_->Run().IgnoreError();
      rollback_->Reset();
    }
  }
  if (durable_) RestoreFullSyncLocked();
  return s;
}

void MetaStore::RestoreFullSyncLocked() noexcept {
  // Setting the flag back does no I/O and cannot fail in practice; a connection left at NORMAL
  // would acknowledge PUTs whose records a power loss can take: not worth running on.
  bool ok = false;
  try {
    ok = db_->Exec("PRAGMA synchronous=FULL;").ok();
  } catch (...) {
  }
  if (!ok) {
    std::fprintf(stderr, "cairn: metadata store: cannot restore synchronous=FULL\n");
    std::abort();
  }
}

Status MetaStore::CompleteStamp(const std::string& bucket, const std::string& key,
                                const FileStamp& stamp) {
  std::vector<Completion> flush;
  {
    std::lock_guard<std::mutex> l(pending_mu_);
    waiting_.push_back(Completion{bucket, key, stamp});
    if (announced_ > 0) return Status::Ok();  // the next Put's transaction writes it
    flush.swap(waiting_);
  }
  std::lock_guard<std::mutex> l(mu_);
  return FlushCompletionsLocked(std::move(flush));
}

Status MetaStore::SetMd5(const std::string& bucket, const std::string& key, const FileStamp& stamp,
                         const std::string& md5_hex) {
  std::lock_guard<std::mutex> l(mu_);
  ASSIGN_OR_RETURN(auto cur, GetLocked(bucket, key, stamp));
  // A multipart object's ETag ("<md5 of part md5s>-N") stays its ETag, whatever its MD5 is.
  if (cur && cur->md5_hex.find('-') != std::string::npos) return Status::Ok();
  ObjectRecord rec;
  if (cur) rec = std::move(*cur);
  rec.stamp = stamp;
  rec.md5_hex = md5_hex;
  return PutLocked(bucket, key, rec);
}

Status MetaStore::DeleteLocked(const std::string& bucket, const std::string& key) {
  del_->Reset();
  del_->Bind(1, bucket);
  del_->BindBlob(2, key);
  Status s = del_->Run();
  del_->Reset();
  Wrote();
  return s;
}

Status MetaStore::Delete(const std::string& bucket, const std::string& key) {
  std::lock_guard<std::mutex> l(mu_);
  return DeleteLocked(bucket, key);
}

Status MetaStore::DeleteBucket(const std::string& bucket) {
  std::lock_guard<std::mutex> l(mu_);
  del_bucket_->Reset();
  del_bucket_->Bind(1, bucket);
  Status s = del_bucket_->Run();
  del_bucket_->Reset();
  Wrote();
  return s;
}

Result<int64_t> MetaStore::Count() {
  std::lock_guard<std::mutex> l(mu_);
  count_->Reset();
  ASSIGN_OR_RETURN(bool row, count_->Step());
  int64_t n = row ? count_->Int(0) : 0;
  count_->Reset();
  return n;
}

}  // namespace cairn
