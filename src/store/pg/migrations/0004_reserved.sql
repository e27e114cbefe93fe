-- Migration 4: reserved for another change (the outputs' outbox); this placeholder only keeps
-- the numbers without a gap on this branch and is replaced by that migration when merged.
SELECT 1;
