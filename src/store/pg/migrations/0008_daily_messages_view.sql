-- Migration 8: daily_messages becomes a view of daily_results, as in SQLite (its migration 15).
-- Both are kept per day, policy domain, header-from and disposition in the same transaction as
-- the records; daily_results only splits each row further by the DMARC, SPF and DKIM outcomes,
-- so daily_messages is its sum (messages passing DMARC: those of the rows with dmarc_aligned).
-- The writer upserts one array of daily rows per batch instead of two, and a purge updates one
-- table less. Readers select from daily_messages as before, with the same column types.
DROP TABLE daily_messages;
CREATE VIEW daily_messages AS
  SELECT day, domain, header_from, disposition, sum(records)::bigint AS records,
         sum(messages)::bigint AS messages,
         sum(CASE WHEN dmarc_aligned <> 0 THEN messages ELSE 0 END)::bigint AS dmarc_pass
  FROM daily_results GROUP BY day, domain, header_from, disposition;
