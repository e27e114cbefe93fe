-- Migration 4: the outbox of the outputs ([output.NAME], docs/outputs.md), as in SQLite's
-- migration 10. Each new report is queued once per configured output in the transaction that
-- stores it (the enqueue takes a transaction lock, so that entries are numbered in commit order);
-- an output delivers its queue in order (id) and removes the entries the receiver accepted.
-- output_state keeps what `dmarc-report outputs` shows and when to try again after a failure.

CREATE TABLE outbox (
  id BIGSERIAL PRIMARY KEY,  -- the order of delivery
  output TEXT NOT NULL,      -- the [output.NAME] name
  kind SMALLINT NOT NULL,    -- 0 aggregate, 1 failure, 2 SMTP TLS report
  report BIGINT NOT NULL,    -- its row in aggregate_reports, failure_reports, ...
  enqueued_at BIGINT NOT NULL
);

CREATE INDEX outbox_by_output ON outbox (output, id);

CREATE TABLE output_state (
  name TEXT PRIMARY KEY,
  last_success_at BIGINT NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  last_error_at BIGINT NOT NULL DEFAULT 0,
  consecutive_failures BIGINT NOT NULL DEFAULT 0,
  next_attempt_at BIGINT NOT NULL DEFAULT 0,
  delivered BIGINT NOT NULL DEFAULT 0,
  failures BIGINT NOT NULL DEFAULT 0,
  dropped BIGINT NOT NULL DEFAULT 0
);
