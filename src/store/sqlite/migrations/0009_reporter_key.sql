-- Migration 9: one reporter under the names it sends ("Google", "google.com", "Google Inc."):
-- the key store::ReporterKey makes of org_name, compared by the dashboard's reporter list and
-- filter and counted by stats. Reports stored before this migration get theirs when the store
-- is opened (SqliteStore::FillReporterKeys: the key is computed by the program, not in SQL).

ALTER TABLE aggregate_reports ADD COLUMN reporter_key TEXT;
CREATE INDEX aggregate_reports_reporter ON aggregate_reports (reporter_key);
