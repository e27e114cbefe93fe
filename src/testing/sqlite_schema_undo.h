// Test-only: SQL that takes an SQLite store back to the schema before a migration, its data kept
// in the old form, so that tests can check what the migration makes of a store written before it.
#pragma once

namespace dmarc::testing {

// Before migration 15: daily_messages a table of its own, filled from the records (not from
// daily_results, so that a test compares the view with what the writer used to keep). Leaves
// user_version as it is.
inline constexpr const char* kUndoDailyMessagesView =
    "DROP VIEW daily_messages;"
    "CREATE TABLE daily_messages (day INTEGER NOT NULL, domain TEXT NOT NULL,"
    " header_from TEXT NOT NULL, disposition TEXT NOT NULL, records INTEGER NOT NULL,"
    " messages INTEGER NOT NULL, dmarc_pass INTEGER NOT NULL,"
    " PRIMARY KEY (day, domain, header_from, disposition)) WITHOUT ROWID;"
    "INSERT INTO daily_messages SELECT day, domain, header_from, disposition, count(*),"
    " sum(count), sum(CASE WHEN dmarc_aligned THEN count ELSE 0 END) FROM aggregate_records"
    " GROUP BY 1, 2, 3, 4;";

// Before migration 14: DKIM, SPF and override results in their own tables (migration 1's), read
// back from the record's JSON columns, which are dropped. Leaves user_version as it is.
inline constexpr const char* kUndoAuthResultsInRecords =
    "CREATE TABLE aggregate_dkim (record INTEGER NOT NULL REFERENCES aggregate_records (id)"
    " ON DELETE CASCADE, position INTEGER NOT NULL, domain TEXT NOT NULL, selector TEXT NOT NULL,"
    " result TEXT NOT NULL, human_result TEXT, PRIMARY KEY (record, position)) WITHOUT ROWID;"
    "CREATE TABLE aggregate_spf (record INTEGER NOT NULL REFERENCES aggregate_records (id)"
    " ON DELETE CASCADE, position INTEGER NOT NULL, domain TEXT NOT NULL, scope TEXT NOT NULL,"
    " result TEXT NOT NULL, human_result TEXT, PRIMARY KEY (record, position)) WITHOUT ROWID;"
    "CREATE TABLE aggregate_overrides (record INTEGER NOT NULL REFERENCES aggregate_records (id)"
    " ON DELETE CASCADE, position INTEGER NOT NULL, type TEXT, comment TEXT,"
    " PRIMARY KEY (record, position)) WITHOUT ROWID;"
    "INSERT INTO aggregate_dkim SELECT r.id, j.key, json_extract(j.value, '$.domain'),"
    " json_extract(j.value, '$.selector'), json_extract(j.value, '$.result'),"
    " json_extract(j.value, '$.human_result') FROM aggregate_records r, json_each(r.dkim) j;"
    "INSERT INTO aggregate_spf SELECT r.id, j.key, json_extract(j.value, '$.domain'),"
    " json_extract(j.value, '$.scope'), json_extract(j.value, '$.result'),"
    " json_extract(j.value, '$.human_result') FROM aggregate_records r, json_each(r.spf) j;"
    "INSERT INTO aggregate_overrides SELECT r.id, j.key, json_extract(j.value, '$.type'),"
    " json_extract(j.value, '$.comment') FROM aggregate_records r, json_each(r.overrides) j;"
    "ALTER TABLE aggregate_records DROP COLUMN dkim;"
    "ALTER TABLE aggregate_records DROP COLUMN spf;"
    "ALTER TABLE aggregate_records DROP COLUMN overrides;";

}  // namespace dmarc::testing
