-- Migration 2: the ingest status of each mail source (`dmarc-report status`, /api/status), written
-- by fetch and run at each step of a poll; and the addresses still waiting for a reverse DNS
-- answer (the enrichment backlog), found through a partial index of the records never enriched.

CREATE TABLE ingest_sources (
  name TEXT PRIMARY KEY,            -- the source as it describes itself (never a password)
  kind TEXT NOT NULL,               -- imap, pop3, maildir, mbox, directory
  state TEXT NOT NULL,              -- idle, polling, error, disabled
  updated_at BIGINT NOT NULL,
  poll_started_at BIGINT,
  poll_ended_at BIGINT,
  next_poll_at BIGINT,
  last_error TEXT,
  last_error_at BIGINT,
  inputs_total BIGINT NOT NULL DEFAULT 0,
  inputs_done BIGINT NOT NULL DEFAULT 0,
  mails_left BIGINT NOT NULL DEFAULT 0,
  mails_stored BIGINT NOT NULL DEFAULT 0,
  mails_invalid BIGINT NOT NULL DEFAULT 0,
  aggregate_new BIGINT NOT NULL DEFAULT 0,
  aggregate_duplicate BIGINT NOT NULL DEFAULT 0,
  failure_new BIGINT NOT NULL DEFAULT 0,
  failure_duplicate BIGINT NOT NULL DEFAULT 0,
  smtp_tls_new BIGINT NOT NULL DEFAULT 0,
  smtp_tls_duplicate BIGINT NOT NULL DEFAULT 0,
  records BIGINT NOT NULL DEFAULT 0,
  rejections BIGINT NOT NULL DEFAULT 0
);

CREATE INDEX aggregate_records_not_enriched ON aggregate_records (source_ip)
  WHERE source_enriched_at IS NULL;
