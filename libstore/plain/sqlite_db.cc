#include "libstore/plain/sqlite_db.h"

#include <sqlite3.h>

#include <atomic>

namespace cairn {

namespace {
sqlite3_stmt* S(void* p) { return static_cast<sqlite3_stmt*>(p); }
sqlite3* D(void* p) { return static_cast<sqlite3*>(p); }
}  // namespace

SqliteStmt::~SqliteStmt() { sqlite3_finalize(S(stmt_)); }

void SqliteStmt::Reset() {
  sqlite3_reset(S(stmt_));
  sqlite3_clear_bindings(S(stmt_));
}

void SqliteStmt::Bind(int i, int64_t v) { sqlite3_bind_int64(S(stmt_), i, v); }

void SqliteStmt::Bind(int i, std::string_view text) {
  sqlite3_bind_text(S(stmt_), i, text.data(), int(text.size()), SQLITE_TRANSIENT);
}

void SqliteStmt::BindBlob(int i, std::string_view bytes) {
  sqlite3_bind_blob(S(stmt_), i, bytes.data(), int(bytes.size()), SQLITE_TRANSIENT);
}

Result<bool> SqliteStmt::Step() {
  int rc = sqlite3_step(S(stmt_));
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return db_->LastError("step");
}

Status SqliteStmt::Run() {
  while (true) {
    ASSIGN_OR_RETURN(bool row, Step());
    if (!row) return Status::Ok();
  }
}

int64_t SqliteStmt::Int(int col) const { return sqlite3_column_int64(S(stmt_), col); }

std::string SqliteStmt::Text(int col) const {
  const void* p = sqlite3_column_blob(S(stmt_), col);
  int n = sqlite3_column_bytes(S(stmt_), col);
  if (p == nullptr || n <= 0) return std::string();
  return std::string(static_cast<const char*>(p), size_t(n));
}

Result<std::unique_ptr<SqliteDb>> SqliteDb::Open(const std::string& path) {
  sqlite3* db = nullptr;
  const std::string name = path.empty() ? ":memory:" : path;
  int rc = sqlite3_open_v2(
      name.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return IOError(name + ": open database: " + msg);
  }
  std::unique_ptr<SqliteDb> out(new SqliteDb(db, name));
  sqlite3_busy_timeout(db, 10000);
  // The WAL and its index stay when the last connection closes (their room stays taken): the next
  // start opens them as they are, where making them anew would need room, and a full disk must
  // not keep a server from starting (its clients delete and abort to give room back).
  if (!path.empty()) {
    int persist = 1;
    sqlite3_file_control(db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
  }
  RETURN_IF_ERROR(out->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"));
  return out;
}

SqliteDb::~SqliteDb() { sqlite3_close(D(db_)); }

Status SqliteDb::Exec(const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(D(db_), sql.c_str(), nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return Status::Ok();
  std::string msg = err ? err : sqlite3_errstr(rc);
  sqlite3_free(err);
  return Status(rc == SQLITE_FULL ? Code::kNoSpace : Code::kIOError, path_ + ": " + msg);
}

Result<std::unique_ptr<SqliteStmt>> SqliteDb::Prepare(const std::string& sql) {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v3(D(db_), sql.c_str(), int(sql.size()), SQLITE_PREPARE_PERSISTENT, &st,
                         nullptr) != SQLITE_OK) {
    return LastError("prepare");
  }
  return std::unique_ptr<SqliteStmt>(new SqliteStmt(this, st));
}

Status SqliteDb::LastError(std::string_view what) const {
  int rc = sqlite3_errcode(D(db_));
  return Status((rc & 0xff) == SQLITE_FULL ? Code::kNoSpace : Code::kIOError,
                path_ + ": " + std::string(what) + ": " + sqlite3_errmsg(D(db_)));
}

bool SqliteDb::MapWalIndex() {
  wal_index_ = nullptr;
  // Only a database in WAL mode has a WAL index: asking for its mapping in another mode would
  // create one.
  {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(D(db_), "PRAGMA journal_mode;", -1, &st, nullptr) != SQLITE_OK) {
      return false;
    }
    bool wal = false;
    if (sqlite3_step(st) == SQLITE_ROW) {
      const unsigned char* mode = sqlite3_column_text(st, 0);
      wal = mode != nullptr && sqlite3_stricmp(reinterpret_cast<const char*>(mode), "wal") == 0;
    }
    sqlite3_finalize(st);
    if (!wal) return false;
  }
  sqlite3_file* f = nullptr;
  if (sqlite3_file_control(D(db_), "main", SQLITE_FCNTL_FILE_POINTER, &f) != SQLITE_OK ||
      f == nullptr || f->pMethods == nullptr || f->pMethods->iVersion < 2 ||
      f->pMethods->xShmMap == nullptr) {
    return false;
  }
  // Region 0 (32 KiB, the header at its start), already mapped by the transactions that ran:
  // bExtend 0 neither creates nor grows anything.
  void volatile* p = nullptr;
  if (f->pMethods->xShmMap(f, 0, 32 << 10, 0, &p) != SQLITE_OK || p == nullptr) return false;
  wal_index_ = static_cast<const volatile uint32_t*>(p);
  return true;
}

bool SqliteDb::ReadWalMark(WalMark* out) const {
  if (wal_index_ == nullptr) return false;
  // As SQLite reads it (wal.c, walIndexTryHdr): the first copy, a barrier, the second copy; a
  // writer stores the second copy, a barrier, then the first, so equal copies are one header.
  WalMark second;
  for (size_t i = 0; i < out->size(); ++i) (*out)[i] = wal_index_[i];
  std::atomic_thread_fence(std::memory_order_acquire);
  for (size_t i = 0; i < second.size(); ++i) second[i] = wal_index_[second.size() + i];
  if (*out != second) return false;
  // isInit, the byte at offset 12: a header not yet built from the WAL says nothing.
  const auto* bytes = reinterpret_cast<const unsigned char*>(out->data());
  return bytes[12] != 0;
}

}  // namespace cairn
