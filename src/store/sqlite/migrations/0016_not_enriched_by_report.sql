-- Migration 16: the partial index of the records never enriched from DNS (the enrichment backlog,
-- migration 8) is keyed by (report, source_ip) instead of (source_ip). The writer numbers a
-- batch's reports and records in increasing order, so each new entry now goes at the index's
-- end instead of at a random place among all the addresses: `import --offline` of the medium
-- benchmark set 3.33 s -> 3.08 s (docs/benchmarks.md). The backlog's count still reads only the
-- index (its addresses are in it), now sorting them to count the distinct ones.
DROP INDEX aggregate_records_not_enriched;
CREATE INDEX aggregate_records_not_enriched ON aggregate_records (report, source_ip)
  WHERE source_enriched_at IS NULL;
