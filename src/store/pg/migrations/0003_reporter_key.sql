-- Migration 3: one reporter under the names it sends ("Google", "google.com", "Google Inc."):
-- the key store::ReporterKey makes of org_name, compared by the dashboard's reporter list and
-- filter and counted by stats. Reports stored before this migration get theirs when the store
-- is opened (the key is computed by the program, not in SQL).

ALTER TABLE aggregate_reports ADD COLUMN reporter_key TEXT;
CREATE INDEX aggregate_reports_reporter ON aggregate_reports (reporter_key);

-- And failure reports stored before their source's DNS name was known (`run` stores first and
-- asks DNS after; offline imports): the background enrichment and `enrich` fill their source in,
-- found through a partial index of those never enriched.
ALTER TABLE failure_reports ADD COLUMN source_enriched_at BIGINT;
CREATE INDEX failure_reports_not_enriched ON failure_reports (source_ip)
  WHERE source_enriched_at IS NULL;
