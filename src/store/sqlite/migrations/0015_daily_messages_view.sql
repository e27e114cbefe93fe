-- Migration 15: daily_messages becomes a view of daily_results. Both are kept per day, policy
-- domain, header-from and disposition in the same transaction as the records; daily_results
-- only splits each row further by the DMARC, SPF and DKIM outcomes, so daily_messages is its sum
-- (messages passing DMARC: those of the rows with dmarc_aligned). The import's writer upserted a
-- row into each for every new key, ~4,000 instructions a record on small reports; now one.
-- Readers select from daily_messages as before; the view groups daily_results in its key's
-- order (no sort), and a day range is pushed into it.
DROP TABLE daily_messages;
CREATE VIEW daily_messages AS
  SELECT day, domain, header_from, disposition, sum(records) AS records,
         sum(messages) AS messages,
         sum(CASE WHEN dmarc_aligned THEN messages ELSE 0 END) AS dmarc_pass
  FROM daily_results GROUP BY day, domain, header_from, disposition;
