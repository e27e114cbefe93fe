-- Migration 9: a placeholder on the outbox branch only, so that 0010 follows without a gap. The
-- lead's own 0009 replaces this file at merge (delete this one then).
SELECT 1;
