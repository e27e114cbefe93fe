-- Migration 3, enrichment: when a record's source fields were last filled from reverse DNS
-- (NULL: never, e.g. imported offline), so `enrich --db` can find records whose data is missing
-- or stale.

ALTER TABLE aggregate_records ADD COLUMN source_enriched_at INTEGER;
