-- Migration 13: counters of changes (ReportStore::AggregateVersion). The row 'aggregate' is
-- increased in the transaction of every write that changes what ForEachAggregate reads: a batch
-- that stores a new aggregate report (import, fetch, migrate's copies), enrichment filling in
-- records' source fields, a purge that removes aggregate reports. Nothing else changes it
-- (sender statuses, ingest state, the outbox, tokens, the address cache). Caches of answers
-- computed from the reports (the sender inventory, the advisor) are kept until it changes.
CREATE TABLE IF NOT EXISTS change_counters (
  name TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT OR IGNORE INTO change_counters (name, value) VALUES ('aggregate', 1);
