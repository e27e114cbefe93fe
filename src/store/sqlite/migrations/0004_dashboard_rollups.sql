-- Migration 4, the dashboard: rollups for its views, and the records of one source IP (its
-- drill-down).

CREATE INDEX aggregate_records_source_ip ON aggregate_records (source_ip);

-- Rollups for the dashboard, written with the records as daily_messages is. daily_results keeps
-- SPF and DKIM alignment and the DMARC result apart; daily_sources gains the same per IP.
CREATE TABLE daily_results (
  day INTEGER NOT NULL,
  domain TEXT NOT NULL,
  header_from TEXT NOT NULL,
  disposition TEXT NOT NULL,
  dmarc_aligned INTEGER NOT NULL,
  spf_aligned INTEGER NOT NULL,
  dkim_aligned INTEGER NOT NULL,
  records INTEGER NOT NULL,
  messages INTEGER NOT NULL,
  PRIMARY KEY (day, domain, header_from, disposition, dmarc_aligned, spf_aligned, dkim_aligned)
) WITHOUT ROWID;
INSERT INTO daily_results
  SELECT day, domain, header_from, disposition, dmarc_aligned, spf_aligned, dkim_aligned,
         count(*), sum(count)
  FROM aggregate_records GROUP BY 1, 2, 3, 4, 5, 6, 7;

ALTER TABLE daily_sources ADD COLUMN records INTEGER NOT NULL DEFAULT 0;
ALTER TABLE daily_sources ADD COLUMN dmarc_pass INTEGER NOT NULL DEFAULT 0;
ALTER TABLE daily_sources ADD COLUMN spf_aligned INTEGER NOT NULL DEFAULT 0;
ALTER TABLE daily_sources ADD COLUMN dkim_aligned INTEGER NOT NULL DEFAULT 0;
DELETE FROM daily_sources;
INSERT INTO daily_sources (day, domain, ip, messages, records, dmarc_pass, spf_aligned,
                           dkim_aligned)
  SELECT r.day, r.domain, s.id, sum(r.count), count(*), sum(r.count * r.dmarc_aligned),
         sum(r.count * r.spf_aligned), sum(r.count * r.dkim_aligned)
  FROM aggregate_records r JOIN source_ips s ON s.ip = r.source_ip GROUP BY 1, 2, 3;
-- daily_sources summed over all days: views without a date range read one row per IP.
CREATE TABLE source_totals (
  domain TEXT NOT NULL,
  ip INTEGER NOT NULL REFERENCES source_ips (id),
  records INTEGER NOT NULL,
  messages INTEGER NOT NULL,
  dmarc_pass INTEGER NOT NULL,
  spf_aligned INTEGER NOT NULL,
  dkim_aligned INTEGER NOT NULL,
  PRIMARY KEY (domain, ip)
) WITHOUT ROWID;
INSERT INTO source_totals
  SELECT domain, ip, sum(records), sum(messages), sum(dmarc_pass), sum(spf_aligned),
         sum(dkim_aligned)
  FROM daily_sources GROUP BY domain, ip;

-- Messages of each aggregate report, so lists of reports and reporters need not sum rows.
CREATE TABLE report_totals (
  report INTEGER PRIMARY KEY REFERENCES aggregate_reports (id) ON DELETE CASCADE,
  messages INTEGER NOT NULL,
  dmarc_pass INTEGER NOT NULL
);
INSERT INTO report_totals
  SELECT report, sum(count), sum(count * dmarc_aligned) FROM aggregate_records GROUP BY report;
