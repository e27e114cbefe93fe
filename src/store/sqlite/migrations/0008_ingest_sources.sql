-- Migration 8: the ingest status of each mail source (`dmarc-report status`, /api/status), written
-- by fetch and run at each step of a poll; and the addresses still waiting for a reverse DNS
-- answer (the enrichment backlog), found through a partial index of the records never enriched.

CREATE TABLE ingest_sources (
  name TEXT PRIMARY KEY,            -- the source as it describes itself (never a password)
  kind TEXT NOT NULL,               -- imap, pop3, maildir, mbox, directory
  state TEXT NOT NULL,              -- idle, polling, error, disabled
  updated_at INTEGER NOT NULL,
  poll_started_at INTEGER,
  poll_ended_at INTEGER,
  next_poll_at INTEGER,
  last_error TEXT,
  last_error_at INTEGER,
  inputs_total INTEGER NOT NULL DEFAULT 0,
  inputs_done INTEGER NOT NULL DEFAULT 0,
  mails_left INTEGER NOT NULL DEFAULT 0,
  mails_stored INTEGER NOT NULL DEFAULT 0,
  mails_invalid INTEGER NOT NULL DEFAULT 0,
  aggregate_new INTEGER NOT NULL DEFAULT 0,
  aggregate_duplicate INTEGER NOT NULL DEFAULT 0,
  failure_new INTEGER NOT NULL DEFAULT 0,
  failure_duplicate INTEGER NOT NULL DEFAULT 0,
  smtp_tls_new INTEGER NOT NULL DEFAULT 0,
  smtp_tls_duplicate INTEGER NOT NULL DEFAULT 0,
  records INTEGER NOT NULL DEFAULT 0,
  rejections INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE INDEX aggregate_records_not_enriched ON aggregate_records (source_ip)
  WHERE source_enriched_at IS NULL;
