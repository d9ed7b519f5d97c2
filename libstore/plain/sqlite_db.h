// SqliteDb: the one wrapper of SQLite (the only file that includes sqlite3.h is sqlite_db.cc).
//
// A database connection with prepared statements. The connection is opened in WAL mode with
// synchronous=NORMAL (a crash loses at most the last transactions, never the database), a busy
// timeout so concurrent processes wait instead of failing, and foreign keys off.
//
// Thread safety: none; a SqliteDb and its statements are used under one caller's lock, except
// ReadWalMark (any thread, any time after MapWalIndex).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "libstore/common/status.h"

namespace cairn {

class SqliteDb;

// A prepared statement. Bind parameters are numbered from 1, columns from 0.
class SqliteStmt {
 public:
  // Made by SqliteDb::Prepare; takes ownership of stmt (a sqlite3_stmt).
  SqliteStmt(SqliteDb* db, void* stmt) : db_(db), stmt_(stmt) {}
  ~SqliteStmt();
  SqliteStmt(const SqliteStmt&) = delete;
  SqliteStmt& operator=(const SqliteStmt&) = delete;

  // Clears bindings and results so the statement can run again.
  void Reset();
  void Bind(int i, int64_t v);
  void Bind(int i, std::string_view text);
  void BindBlob(int i, std::string_view bytes);
  // Runs one step: true with a row to read, false when done. Errors carry SQLite's message.
  Result<bool> Step();
  // Runs to completion (a statement without rows).
  Status Run();
  int64_t Int(int col) const;
  std::string Text(int col) const;  // text or blob bytes; "" for NULL

 private:
  SqliteDb* db_;
  void* stmt_;  // sqlite3_stmt
};

class SqliteDb {
 public:
  // Opens or creates the database file at path; "" opens a private in-memory database.
  static Result<std::unique_ptr<SqliteDb>> Open(const std::string& path);
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  // Runs one or more statements without results.
  Status Exec(const std::string& sql);
  Result<std::unique_ptr<SqliteStmt>> Prepare(const std::string& sql);
  const std::string& path() const { return path_; }

  // The last error as a Status: kIOError (kNoSpace when the disk is full), "path: what".
  Status LastError(std::string_view what) const;

  // A mark of the database's committed state: the WAL-index header (docs of SQLite's file
  // formats, walformat.html, "The WAL-Index Header"), which every commit of every connection to
  // the database, in this process or another, rewrites (its change counter, last frame and
  // checksums) before the commit is visible to any reader. SQLite's own readers compare it to
  // know whether their page cache still holds; equal marks read at two moments mean that no
  // commit was published in between.
  using WalMark = std::array<uint32_t, 12>;
  // Looks up this connection's mapping of the WAL index, for ReadWalMark; false when the
  // database has none (not in WAL mode, in memory). Call after a transaction ran in WAL mode,
  // under the caller's lock; the mapping lasts as long as the connection.
  bool MapWalIndex();
  // Reads the mark without a lock or a system call (any thread). False when there is no mapping,
  // or a commit is being published at this moment (the header's two copies differ), or the index
  // is not initialised: the caller then knows nothing and asks the database.
  bool ReadWalMark(WalMark* out) const;

 private:
  SqliteDb(void* db, std::string path) : db_(db), path_(std::move(path)) {}
  void* db_;  // sqlite3
  std::string path_;
  const volatile uint32_t* wal_index_ = nullptr;  // region 0 of the WAL index (shared memory)
};

}  // namespace cairn
