#include "libstore/object/heal.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "libstore/common/rate_limiter.h"
#include "libstore/common/stage_threads.h"
#include "libstore/format/heal_journal.h"
#include "libstore/format/volume_format.h"
#include "libstore/object/erasure_set_internal.h"

namespace cairn {
namespace {

// A worker commits its healed objects together once it holds this many (or this many bytes).
constexpr size_t kBatchObjects = 64;
constexpr uint64_t kBatchBytes = 64 << 20;
constexpr auto kBatchWait = std::chrono::seconds(1);  // and never holds one longer than this
constexpr uint64_t kProgressStep = 4 << 20;           // progress reports every this many bytes read

HealJournal::Counts ToCounts(const ScanSummary& s) {
  HealJournal::Counts c;
  c.scanned = s.scanned;
  c.healthy = s.healthy;
  c.degraded = s.degraded;
  c.unrecoverable = s.unrecoverable;
  c.healed = s.healed;
  c.still_degraded = s.still_degraded;
  c.unrecoverable_after = s.unrecoverable_after;
  c.removed = s.removed;
  c.deletes_finished = s.deletes_finished;
  c.bytes_read = s.bytes_read;
  c.bytes_written = s.bytes_written;
  return c;
}

void AddCounts(const HealJournal::Counts& c, ScanSummary* s) {
  s->scanned += c.scanned;
  s->healthy += c.healthy;
  s->degraded += c.degraded;
  s->unrecoverable += c.unrecoverable;
  s->healed += c.healed;
  s->still_degraded += c.still_degraded;
  s->unrecoverable_after += c.unrecoverable_after;
  s->removed += c.removed;
  s->deletes_finished += c.deletes_finished;
  s->bytes_read += c.bytes_read;
  s->bytes_written += c.bytes_written;
}

class Scan {
 public:
  Scan(ErasureSet& set, const SetScanOptions& o, ScanObserver& obs) : set_(set), o_(o), obs_(obs) {
    if (o.max_rate > 0) limiter_ = std::make_unique<RateLimiter>(o.max_rate);
    co_.deep = o.deep || o.heal;
    co_.dry_run = o.dry_run;
    co_.remove_dangling = o.remove_dangling;
    co_.limiter = limiter_.get();
    co_.on_read = [this](uint64_t n) {
      uint64_t total = read_.fetch_add(n, std::memory_order_relaxed) + n;
      if (total / kProgressStep == (total - n) / kProgressStep) return;
      std::unique_lock<std::mutex> l(obs_mu_, std::try_to_lock);
      if (l.owns_lock()) obs_.Progress(total);
    };
  }

  Result<ScanSummary> Run() {
    const auto start = std::chrono::steady_clock::now();
    const bool journaled = journaled_ = o_.heal && !o_.dry_run;
    last_save_ns_ = set_.NowNs();
    HealJournal resume;
    bool resuming = false;
    if (journaled) {
      resuming = o_.resume && ReadJournal(&resume);
      if (resuming) {
        AddCounts(resume.counts, &sum_);
        sum_.resumed_from = resume.bucket + "/" + resume.key;
        journal_.started_ns = resume.started_ns;
        obs_.Note("resuming the heal started " + Ago(resume.started_ns) + ", after " +
                  sum_.resumed_from);
      } else {
        journal_.started_ns = set_.NowNs();
      }
      journal_.scope_bucket = o_.bucket;
      journal_.scope_prefix = o_.prefix;
    }
    if (o_.heal) RETURN_IF_ERROR(DrainMrf());
    ASSIGN_OR_RETURN(auto buckets, Buckets());
    RETURN_IF_ERROR(StartWorkers());
    Status st;
    for (const auto& b : buckets) {
      if (resuming && b < resume.bucket) continue;
      std::string after = resuming && b == resume.bucket ? resume.key : std::string();
      st = set_.ScanKeys(
          b, o_.prefix, after,
          [&](const std::string& key) {
            Push(b, key);
            return true;
          },
          foreign_);
      if (!st.ok()) break;
    }
    StopWorkers();
    RETURN_IF_ERROR(st);
    if (journaled) RemoveJournal();
    sum_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return sum_;
  }

 private:
  struct Work {
    uint64_t seq;
    std::string bucket, key;
    bool done = false;
    std::unique_ptr<ObjectHealth> result;  // once done; null when it was deleted meanwhile
  };

  std::string Ago(int64_t ns) const {
    int64_t s = (set_.NowNs() - ns) / 1000000000;
    if (s < 120) return std::to_string(s) + " s ago";
    if (s < 7200) return std::to_string(s / 60) + " min ago";
    return std::to_string(s / 3600) + " h ago";
  }

  // ---- journal

  bool ReadJournal(HealJournal* out) {
    bool found = false;
    for (uint32_t i = 0; i < set_.n(); ++i) {
      Volume* v = set_.volume(i);
      if (v == nullptr) continue;
      auto raw = v->ReadFile(kHealJournalPath, kMaxHealJournalSize);
      if (!raw.ok()) continue;
      auto j = HealJournal::Decode(*raw);
      if (!j.ok()) continue;
      if (j->scope_bucket != o_.bucket || j->scope_prefix != o_.prefix) continue;
      if (!found || j->updated_ns > out->updated_ns) *out = *j;
      found = true;
    }
    return found;
  }

  void WriteJournal(const HealJournal& j) {
    auto bytes = j.Encode();
    if (!bytes.ok()) return;  // a scope the store refuses is never journaled
    for (uint32_t i = 0; i < set_.n(); ++i) {
      Volume* v = set_.volume(i);
      if (v == nullptr) continue;
      // Best effort per volume: a journal on any volume is enough to resume. The first save
      // also makes the heal directory's own entry durable (it may have just been made).
      Status s = v->MakeDirs(kHealDir);
      if (s.ok() && !journal_dir_synced_) s = v->SyncDir(kSysDir);
      if (s.ok()) s = ReplaceFile(*v, kHealJournalPath, *bytes, kTmpDir);
      s.IgnoreError();
    }
    journal_dir_synced_ = true;
  }

  // Durably: a journal that came back after a crash would make the next heal skip everything
  // before its mark.
  void RemoveJournal() {
    for (uint32_t i = 0; i < set_.n(); ++i) {
      Volume* v = set_.volume(i);
      if (v != nullptr && v->Remove(kHealJournalPath).ok()) v->SyncDir(kHealDir).IgnoreError();
    }
  }

  // Saves the watermark every few seconds (force: now).
  void MaybeSaveJournal(bool force) {
    std::unique_lock<std::mutex> save(save_mu_, std::try_to_lock);
    if (!save.owns_lock()) return;  // another thread is saving it right now
    const int64_t now = set_.NowNs();
    if (!force && now - last_save_ns_ < o_.journal_every_ms * 1'000'000) return;
    last_save_ns_ = now;
    HealJournal j;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (!have_mark_) return;
      j = journal_;
      j.bucket = mark_bucket_;
      j.key = mark_key_;
      j.counts = ToCounts(sum_);
    }
    j.updated_ns = set_.NowNs();
    WriteJournal(j);
  }

  // ---- MRF: partial writes and degraded reads, healed first

  Status DrainMrf() {
    ASSIGN_OR_RETURN(auto entries, set_.ListMrf());
    // Group by object; heal each once, then drop its entries once it is whole (or gone).
    std::map<std::pair<std::string, std::string>, std::vector<std::string>> by_key;
    for (const auto& e : entries) {
      if (!o_.bucket.empty() &&
          (e.bucket != o_.bucket || e.key.compare(0, o_.prefix.size(), o_.prefix) != 0)) {
        continue;
      }
      by_key[{e.bucket, e.key}].push_back(e.id);
      ++sum_.mrf_entries;
    }
    if (by_key.empty()) return Status::Ok();
    uint64_t objects = 0, healed = 0, deletes = 0;
    for (const auto& [bk, ids] : by_key) {
      auto h = set_.HealObject(bk.first, bk.second, co_);
      bool clear = false;
      if (!h.ok()) {
        clear = h.status().code() == Code::kNotFound;
      } else {
        ++objects;
        sum_.bytes_read += h->bytes_read;
        sum_.bytes_written += h->bytes_written;
        if (h->action == ObjectHealth::Action::kHealed) ++healed;
        if (h->action == ObjectHealth::Action::kFinishedDelete) ++deletes;
        clear = h->after == Health::kHealthy && h->action != ObjectHealth::Action::kChanged &&
                h->action != ObjectHealth::Action::kWouldHeal;
        if (h->health != Health::kHealthy) {
          std::lock_guard<std::mutex> l(obs_mu_);
          obs_.Object(*h);
        }
      }
      if (clear && !o_.dry_run) {
        for (const auto& id : ids) set_.RemoveMrf(id);
        sum_.mrf_cleared += ids.size();
      }
    }
    sum_.healed += healed;
    sum_.deletes_finished += deletes;
    obs_.Note("journal of failed writes: " + std::to_string(sum_.mrf_entries) + " entries for " +
              std::to_string(by_key.size()) + " objects, " + std::to_string(healed) + " healed, " +
              (deletes > 0 ? std::to_string(deletes) + " deletes finished, " : "") +
              std::to_string(sum_.mrf_cleared) + " entries cleared");
    return Status::Ok();
  }

  // ---- buckets

  Result<std::vector<std::string>> Buckets() {
    ASSIGN_OR_RETURN(auto found, set_.ScanBuckets(foreign_));
    std::vector<std::string> out;
    for (const auto& [name, count] : found) {
      if (!o_.bucket.empty() && name != o_.bucket) continue;
      if (count < set_.read_quorum()) {
        ASSIGN_OR_RETURN(bool unfinished,
                         set_.SettleUnfinishedBucket(name, !o_.heal || o_.dry_run));
        if (unfinished) {
          ++sum_.unfinished_buckets;
          obs_.Note("bucket " + name + " is on " + std::to_string(count) + " of " +
                    std::to_string(set_.n()) +
                    " volumes, too few to have ever been made: an mb or rb that did not finish; " +
                    (o_.heal && !o_.dry_run ? "removed what was left of it"
                                            : "heal removes what is left of it"));
          continue;
        }
        ++sum_.dangling_buckets;
        obs_.Note("bucket " + name + " is on " + std::to_string(count) + " of " +
                  std::to_string(set_.n()) + " volumes, below the read quorum of " +
                  std::to_string(set_.read_quorum()) +
                  ": left alone (remove it with rb, or "
                  "create it with mb)");
        continue;
      }
      if (o_.heal) {
        ASSIGN_OR_RETURN(auto made, set_.HealBucket(name, o_.dry_run));
        if (!made.empty()) {
          ++sum_.buckets_healed;
          std::string list;
          for (uint32_t p : made) list += (list.empty() ? "" : ",") + std::to_string(p + 1);
          obs_.Note(std::string(o_.dry_run ? "would recreate" : "recreated") + " bucket " + name +
                    " on member" + (made.size() > 1 ? "s " : " ") + list);
        }
      }
      // (Verify: a bucket directory missing on a member makes every object in it degraded, and
      // the object checks report that.)
      out.push_back(name);
    }
    if (!o_.bucket.empty() && out.empty() && sum_.dangling_buckets == 0) {
      return BucketNotFound("bucket " + o_.bucket + " does not exist");
    }
    return out;
  }

  // ---- workers

  // As many workers as asked (or as the system lets start: --jobs is a bound, not a promise).
  Status StartWorkers() {
    const int jobs = std::max(1, std::min(o_.jobs, 64));
    if (StartThreads(&workers_, size_t(jobs), [this] { Worker(); }) == 0) {
      return Status(Code::kSlowDown, "cannot start a thread to scan with");
    }
    return Status::Ok();
  }

  void Push(const std::string& bucket, const std::string& key) {
    std::unique_lock<std::mutex> l(mu_);
    // Bounded memory: few keys wait for a worker, and results wait to be reported in order for
    // at most a window of objects (enough for every worker's batch to fill).
    const size_t window = workers_.size() * (kBatchObjects + 2) * 2;
    space_.wait(l, [&] { return queue_.size() < workers_.size() * 2 && order_.size() < window; });
    order_.push_back(Work{next_seq_, bucket, key, false, nullptr});
    queue_.push_back(next_seq_++);
    ready_.notify_one();
  }

  void StopWorkers() {
    {
      std::lock_guard<std::mutex> l(mu_);
      closed_ = true;
    }
    ready_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  void Worker() {
    // Objects that need writes are queued in a batch of this worker's own and committed together
    // (two flushes per batch, not per object); they count as done once committed.
    HealBatch batch;
    std::vector<uint64_t> queued;
    std::chrono::steady_clock::time_point oldest;
    auto commit = [&] {
      if (batch.size() == 0) return;
      auto results = set_.CommitHeals(batch);
      for (size_t i = 0; i < results.size(); ++i) {
        ObjectHealth& h = results[i];
        if (h.action == ObjectHealth::Action::kChanged) {
          // Overwritten while healing: look again once, on its own.
          auto again = set_.HealObject(h.bucket, h.key, co_);
          if (again.ok())
            h = std::move(again).value();
          else if (again.status().code() == Code::kNotFound)
            h.action = ObjectHealth::Action::kNone, h.after = Health::kHealthy;
        }
        Done(queued[i], &h);
      }
      queued.clear();
    };
    while (true) {
      uint64_t seq;
      std::string bucket, key;
      {
        std::unique_lock<std::mutex> l(mu_);
        if (queue_.empty() && batch.size() > 0) {
          l.unlock();
          commit();
          l.lock();
        }
        ready_.wait(l, [&] { return closed_ || !queue_.empty(); });
        if (queue_.empty()) break;
        seq = queue_.front();
        queue_.pop_front();
        const Work& w = order_[seq - order_.front().seq];
        bucket = w.bucket;
        key = w.key;
        space_.notify_one();
      }
      auto h = Process(bucket, key, &batch);
      if (h && h->action == ObjectHealth::Action::kQueued) {
        if (queued.empty()) oldest = std::chrono::steady_clock::now();
        queued.push_back(seq);
        if (batch.size() >= kBatchObjects || batch.bytes() >= kBatchBytes ||
            std::chrono::steady_clock::now() - oldest >= kBatchWait) {
          commit();
        }
        continue;
      }
      Done(seq, h.get());
    }
    commit();
  }

  // One object finished (h null: it was deleted meanwhile). Objects are counted and reported in
  // key order, whatever order the workers finish them in: each waits in order_ for the ones
  // before it. So the journal's counts are those of the objects up to its watermark, exactly,
  // and a resumed heal counts none twice.
  void Done(uint64_t seq, const ObjectHealth* h) {
    {
      // obs_mu_ first, and held while reporting: the objects one thread takes off order_ are
      // reported before those the next thread takes.
      std::lock_guard<std::mutex> report(obs_mu_);
      std::vector<std::unique_ptr<ObjectHealth>> ready;
      {
        std::lock_guard<std::mutex> l(mu_);
        Work& w = order_[seq - order_.front().seq];
        w.done = true;
        if (h) w.result = std::make_unique<ObjectHealth>(*h);
        bool popped = false;
        while (!order_.empty() && order_.front().done) {
          Work& front = order_.front();
          if (front.result) {
            Count(*front.result);
            ready.push_back(std::move(front.result));
          }
          mark_bucket_ = std::move(front.bucket);
          mark_key_ = std::move(front.key);
          have_mark_ = true;
          order_.pop_front();
          popped = true;
        }
        if (popped) space_.notify_all();
      }
      for (const auto& r : ready) obs_.Object(*r);
    }
    if (journaled_) MaybeSaveJournal(false);
  }

  // One object; nothing when it was deleted meanwhile.
  std::unique_ptr<ObjectHealth> Process(const std::string& bucket, const std::string& key,
                                        HealBatch* batch) {
    auto r =
        o_.heal ? set_.HealObject(bucket, key, co_, batch) : set_.CheckObject(bucket, key, co_);
    if (!r.ok()) {
      if (r.status().code() == Code::kNotFound) return nullptr;
      auto h = std::make_unique<ObjectHealth>();
      h->bucket = bucket;
      h->key = key;
      h->health = h->after = Health::kUnrecoverable;
      h->action = o_.heal ? ObjectHealth::Action::kFailed : ObjectHealth::Action::kNone;
      h->note = r.status().message();
      return h;
    }
    return std::make_unique<ObjectHealth>(std::move(r).value());
  }

  void Count(const ObjectHealth& h) {
    ++sum_.scanned;
    sum_.bytes_read += h.bytes_read;
    sum_.bytes_written += h.bytes_written;
    switch (h.health) {
      case Health::kHealthy:
        ++sum_.healthy;
        break;
      case Health::kDegraded:
        ++sum_.degraded;
        break;
      case Health::kUnrecoverable:
        ++sum_.unrecoverable;
        break;
    }
    if (!o_.heal || h.health == Health::kHealthy) return;
    using A = ObjectHealth::Action;
    if (h.action == A::kHealed || h.action == A::kWouldHeal) ++sum_.healed;
    if (h.action == A::kRemoved || h.action == A::kWouldRemove) {
      ++sum_.removed;
      return;
    }
    if (h.action == A::kFinishedDelete || h.action == A::kWouldFinishDelete)
      ++sum_.deletes_finished;
    if (h.action == A::kWouldFinishDelete) return;
    if (h.action == A::kWouldHeal) return;  // dry run: it would be whole
    if (h.after == Health::kDegraded || h.action == A::kChanged) ++sum_.still_degraded;
    if (h.after == Health::kUnrecoverable) ++sum_.unrecoverable_after;
  }

  // A symlink or other non-file in a member's tree: counted, reported, left alone.
  const ForeignEntryFn foreign_ = [this](const ForeignEntry& e) {
    Volume* v = set_.volume(e.position);
    std::string where = v != nullptr ? v->Describe() + "/" + e.path : e.path;
    {
      std::lock_guard<std::mutex> l(mu_);
      ++sum_.foreign_entries;
    }
    std::lock_guard<std::mutex> l(obs_mu_);
    obs_.Note("member " + std::to_string(e.position + 1) + ": " + where + " is a " +
              (e.kind == FileKind::kSymlink ? "symbolic link" : "FIFO, socket or device") +
              ", which cairn never makes and never follows (remove it)");
  };
  ErasureSet& set_;
  const SetScanOptions& o_;
  ScanObserver& obs_;
  std::unique_ptr<RateLimiter> limiter_;
  CheckOptions co_;
  ScanSummary sum_;
  HealJournal journal_;
  bool journaled_ = false;
  std::mutex save_mu_;  // one journal save at a time; guards last_save_ns_ and journal_dir_synced_
  int64_t last_save_ns_ = 0;
  bool journal_dir_synced_ = false;

  std::mutex mu_;  // guards everything below, and sum_ once workers run
  std::condition_variable ready_, space_;
  std::deque<uint64_t> queue_;  // seqs waiting for a worker
  std::deque<Work> order_;      // every object not yet finished in order, oldest first
  uint64_t next_seq_ = 0;
  bool closed_ = false;
  bool have_mark_ = false;
  std::string mark_bucket_, mark_key_;
  std::vector<std::thread> workers_;
  std::mutex obs_mu_;
  std::atomic<uint64_t> read_{0};
};

}  // namespace

Result<ScanSummary> ScanSet(ErasureSet& set, const SetScanOptions& o, ScanObserver& obs) {
  Scan s(set, o, obs);
  return s.Run();
}

static std::string ForeignNote(const ScanSummary& s) {
  return std::to_string(s.foreign_entries) +
         " entries in the members that cairn did not make (see above)";
}

static Status ForeignVerdict(const ScanSummary& s) {
  return Status(Code::kDegraded, ForeignNote(s));
}

// A degraded verdict's message, naming the foreign entries too when there are some.
static Status Degraded(const ScanSummary& s, std::string what) {
  if (s.foreign_entries > 0) what += "; " + ForeignNote(s);
  return Status(Code::kDegraded, what);
}

Status ScanVerdict(const SetScanOptions& o, const ScanSummary& s) {
  if (!o.heal || o.dry_run) {
    if (s.unrecoverable > 0 || s.dangling_buckets > 0) {
      return DataLoss(std::to_string(s.unrecoverable) + " of " + std::to_string(s.scanned) +
                      " objects unrecoverable" +
                      (s.dangling_buckets
                           ? ", " + std::to_string(s.dangling_buckets) + " buckets below quorum"
                           : ""));
    }
    if (s.degraded > 0 || s.unfinished_buckets > 0) {
      return Degraded(s, std::to_string(s.degraded) + " of " + std::to_string(s.scanned) +
                             " objects degraded" +
                             (s.unfinished_buckets > 0
                                  ? ", " + std::to_string(s.unfinished_buckets) +
                                        " buckets half made or half removed"
                                  : std::string()) +
                             ", all recoverable (run cairn heal)");
    }
    if (s.foreign_entries > 0) return ForeignVerdict(s);
    return Status::Ok();
  }
  if (s.unrecoverable_after > 0 || s.dangling_buckets > 0) {
    return DataLoss(std::to_string(s.unrecoverable_after) + " objects unrecoverable" +
                    (s.dangling_buckets
                         ? ", " + std::to_string(s.dangling_buckets) + " buckets below quorum"
                         : "") +
                    " (left as they are)");
  }
  if (s.still_degraded > 0) {
    return Degraded(
        s, std::to_string(s.still_degraded) + " objects still short of a shard (see above)");
  }
  if (s.foreign_entries > 0) return ForeignVerdict(s);
  return Status::Ok();
}

}  // namespace cairn
