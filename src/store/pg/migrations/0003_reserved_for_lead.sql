-- Migration 3: a placeholder on the outbox branch only, so that 0004 follows without a gap. The
-- lead's own 0003 replaces this file at merge (delete this one then).
SELECT 1;
