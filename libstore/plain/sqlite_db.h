// SqliteDb: the one wrapper of SQLite (the only file that includes sqlite3.h is sqlite_db.cc).
//
// A database connection with prepared statements. The connection is opened in WAL mode with
// synchronous=NORMAL (a crash loses at most the last transactions, never the database), a busy
// timeout so concurrent processes wait instead of failing, and foreign keys off.
//
// Thread safety: none; a SqliteDb and its statements are used under one caller's lock.
#pragma once

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

 private:
  SqliteDb(void* db, std::string path) : db_(db), path_(std::move(path)) {}
  void* db_;  // sqlite3
  std::string path_;
};

}  // namespace cairn
