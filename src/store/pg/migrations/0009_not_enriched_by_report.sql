-- Migration 9: the partial index of the records never enriched from DNS (migration 2) is keyed by
-- (report, source_ip) instead of (source_ip), as in SQLite (its migration 16). Reports are
-- numbered in increasing order, so each new entry goes at the index's right edge instead of at a
-- random place among all the addresses (docs/benchmarks.md). The backlog's count reads the
-- same rows; the enrichment's UPDATE finds an address's records by aggregate_records_source_ip.
DROP INDEX aggregate_records_not_enriched;
CREATE INDEX aggregate_records_not_enriched ON aggregate_records (report, source_ip)
  WHERE source_enriched_at IS NULL;
