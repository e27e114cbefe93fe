-- Migration 7: source_totals over every policy domain: views without a domain or days (the
-- first page a person opens) read one row per address. The records of one address, and of one
-- header-from domain, by size: the largest are the first entries of the index (the drill-downs).

DROP INDEX aggregate_records_source_ip;
CREATE INDEX aggregate_records_source_ip ON aggregate_records (source_ip, count DESC);
CREATE INDEX aggregate_records_header_from ON aggregate_records (header_from, count DESC);
CREATE TABLE ip_totals (
  ip INTEGER PRIMARY KEY REFERENCES source_ips (id),
  records INTEGER NOT NULL,
  messages INTEGER NOT NULL,
  dmarc_pass INTEGER NOT NULL,
  spf_aligned INTEGER NOT NULL,
  dkim_aligned INTEGER NOT NULL
);
INSERT INTO ip_totals
  SELECT ip, sum(records), sum(messages), sum(dmarc_pass), sum(spf_aligned), sum(dkim_aligned)
  FROM source_totals GROUP BY ip;
