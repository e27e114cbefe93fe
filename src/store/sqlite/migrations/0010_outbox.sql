-- Migration 10: the outbox of the outputs ([output.NAME], docs/outputs.md). Each new report is
-- queued once per configured output in the transaction that stores it; an output delivers its
-- queue in order (id) and removes the entries once the receiver accepted them. output_state keeps
-- what `dmarc-report outputs` shows and when to try again after a failure (the backoff survives
-- a restart).

CREATE TABLE outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: the order of delivery
  output TEXT NOT NULL,                  -- the [output.NAME] name
  kind INTEGER NOT NULL,                 -- 0 aggregate, 1 failure, 2 SMTP TLS report
  report INTEGER NOT NULL,               -- its row in aggregate_reports, failure_reports, ...
  enqueued_at INTEGER NOT NULL
);

CREATE INDEX outbox_by_output ON outbox (output, id);

CREATE TABLE output_state (
  name TEXT PRIMARY KEY,
  last_success_at INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  last_error_at INTEGER NOT NULL DEFAULT 0,
  consecutive_failures INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL DEFAULT 0,
  delivered INTEGER NOT NULL DEFAULT 0,
  failures INTEGER NOT NULL DEFAULT 0,
  dropped INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
