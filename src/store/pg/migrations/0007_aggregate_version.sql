-- Migration 7: counters of changes (ReportStore::AggregateVersion). The row 'aggregate' is
-- increased in the transaction of every write that changes what ForEachAggregate reads: a batch
-- that stores a new aggregate report (import, fetch, migrate's copies), enrichment filling in
-- records' source fields, a purge that removes aggregate reports (rows or a whole month's
-- partition). Nothing else changes it (sender statuses, ingest state, the outbox, tokens, the
-- address cache). Caches of answers computed from the reports (the sender inventory, the
-- advisor) are kept until it changes; a standby reads it as replicated.
CREATE TABLE IF NOT EXISTS change_counters (
  name TEXT PRIMARY KEY,
  value BIGINT NOT NULL
);
INSERT INTO change_counters (name, value) VALUES ('aggregate', 1) ON CONFLICT DO NOTHING;
