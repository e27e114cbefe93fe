// Test-only: damages an SQLite store file on purpose, as a failing disk or a stray write would.
#pragma once

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>
#include <string>

namespace dmarc::testing {

// Overwrites the first page of `table` (its b-tree root) in the SQLite file at path with junk,
// after moving the WAL's pages into the file. The schema (page 1) stays readable, so the store
// still opens; reading the table, or SQLite's integrity check, finds the damage. No connection
// to the file may be open.
inline void DamageSqliteTable(const std::string& path, const std::string& table) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  const std::string sql =
      "SELECT rootpage, (SELECT page_size FROM pragma_page_size) FROM sqlite_master WHERE name = "
      "'" +
      table + "'";
  ASSERT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW) << "no table " << table;
  const long long page = sqlite3_column_int64(stmt, 0), page_size = sqlite3_column_int64(stmt, 1);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp((page - 1) * page_size);
  f << std::string(static_cast<std::size_t>(page_size), '\xAB');
  ASSERT_TRUE(f.good());
}

}  // namespace dmarc::testing
