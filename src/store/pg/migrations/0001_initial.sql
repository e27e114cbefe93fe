-- PostgreSQL migration 1: the schema of the first release on PostgreSQL, with the same concepts
-- as SQLite's schema 7 (docs/store.md). Each file migrates version N - 1 to N; they run in
-- order, in one transaction under an advisory lock, when a store is opened. Never edit a
-- released file: add a new one.
-- Differences from SQLite, for scale: aggregate_records is partitioned by month of `day` (the
-- writer creates partitions; retention drops whole ones), and a record's DKIM, SPF and override
-- results are JSON arrays in the record's row (one COPY stream, one partition to drop).

CREATE TABLE aggregate_reports (
  id BIGSERIAL PRIMARY KEY,
  org_name TEXT NOT NULL,
  org_email TEXT NOT NULL,
  org_extra_contact_info TEXT,
  report_id TEXT NOT NULL,
  begin_ts BIGINT NOT NULL,
  end_ts BIGINT NOT NULL,
  domain TEXT NOT NULL,
  xml_schema TEXT NOT NULL,
  xml_namespace TEXT,
  generator TEXT,
  timespan_requires_normalization SMALLINT NOT NULL,
  original_timespan_seconds BIGINT NOT NULL,
  errors TEXT NOT NULL,
  adkim TEXT NOT NULL,
  aspf TEXT NOT NULL,
  p TEXT NOT NULL,
  sp TEXT NOT NULL,
  pct TEXT,
  fo TEXT,
  np TEXT,
  testing TEXT,
  discovery_method TEXT,
  origin TEXT NOT NULL,
  imported_at BIGINT NOT NULL,
  record_count INTEGER NOT NULL DEFAULT 0,
  UNIQUE (org_name, report_id, domain, begin_ts, end_ts)
);
CREATE INDEX aggregate_reports_domain_begin ON aggregate_reports (domain, begin_ts);
CREATE INDEX aggregate_reports_begin ON aggregate_reports (begin_ts);

-- Record ids come from this sequence (identity columns cannot be partitioned in PostgreSQL 15).
CREATE SEQUENCE aggregate_records_id_seq;
-- Partitioned by month of `day` (RANGE, Unix seconds): partitions are named
-- aggregate_records_YYYYMM and made by the writer before it copies records into them.
-- `report` has no foreign key (partitioned rows); the store deletes a report's records with it.
CREATE TABLE aggregate_records (
  id BIGINT NOT NULL DEFAULT nextval('aggregate_records_id_seq'),
  report BIGINT NOT NULL,
  domain TEXT NOT NULL,
  day BIGINT NOT NULL,
  interval_begin BIGINT NOT NULL,
  interval_end BIGINT NOT NULL,
  normalized_timespan SMALLINT NOT NULL,
  source_ip TEXT NOT NULL,
  source_country TEXT,
  source_reverse_dns TEXT,
  source_base_domain TEXT,
  source_name TEXT,
  source_type TEXT,
  source_asn BIGINT,
  source_as_name TEXT,
  source_as_domain TEXT,
  count BIGINT NOT NULL,
  spf_aligned SMALLINT NOT NULL,
  dkim_aligned SMALLINT NOT NULL,
  dmarc_aligned SMALLINT NOT NULL,
  disposition TEXT NOT NULL,
  policy_dkim TEXT NOT NULL,
  policy_spf TEXT NOT NULL,
  header_from TEXT NOT NULL,
  envelope_from TEXT,
  envelope_to TEXT,
  source_enriched_at BIGINT,
  -- [{"domain","selector","result","human_result"}...] in report order; NULL: none
  dkim JSONB,
  -- [{"domain","scope","result","human_result"}...]; NULL: none
  spf JSONB,
  -- [{"type","comment"}...]; NULL: none
  overrides JSONB,
  PRIMARY KEY (id, day)
) PARTITION BY RANGE (day);
-- Monthly partitions cover record days from 2010-01-01 to 2060-01-01 (at most 600, whatever the
-- reports say); days before and after go to these two, so a report dated 1970 or 9999 makes no
-- partition. (No DEFAULT partition: attaching a month would then lock and scan it.)
CREATE TABLE aggregate_records_before_2010 PARTITION OF aggregate_records
  FOR VALUES FROM (MINVALUE) TO (1262304000);
CREATE TABLE aggregate_records_from_2060 PARTITION OF aggregate_records
  FOR VALUES FROM (2840140800) TO (MAXVALUE);
CREATE INDEX aggregate_records_report ON aggregate_records (report);
CREATE INDEX aggregate_records_source_ip ON aggregate_records (source_ip, count DESC);
CREATE INDEX aggregate_records_header_from ON aggregate_records (header_from, count DESC);

CREATE TABLE aggregate_raw (
  report BIGINT PRIMARY KEY REFERENCES aggregate_reports (id) ON DELETE CASCADE,
  encoding TEXT NOT NULL,
  size BIGINT NOT NULL,
  bytes BYTEA NOT NULL
);
-- Gzip already: stored out of line as is, without PostgreSQL trying to compress it again.
ALTER TABLE aggregate_raw ALTER COLUMN bytes SET STORAGE EXTERNAL;

-- Daily rollups, maintained in the same transaction as the records.
CREATE TABLE daily_messages (
  day BIGINT NOT NULL,
  domain TEXT NOT NULL,
  header_from TEXT NOT NULL,
  disposition TEXT NOT NULL,
  records BIGINT NOT NULL,
  messages BIGINT NOT NULL,
  dmarc_pass BIGINT NOT NULL,
  PRIMARY KEY (day, domain, header_from, disposition)
);

CREATE TABLE daily_results (
  day BIGINT NOT NULL,
  domain TEXT NOT NULL,
  header_from TEXT NOT NULL,
  disposition TEXT NOT NULL,
  dmarc_aligned SMALLINT NOT NULL,
  spf_aligned SMALLINT NOT NULL,
  dkim_aligned SMALLINT NOT NULL,
  records BIGINT NOT NULL,
  messages BIGINT NOT NULL,
  PRIMARY KEY (day, domain, header_from, disposition, dmarc_aligned, spf_aligned, dkim_aligned)
);

-- Every source IP ever seen, numbered: distinct counts compare integers, not text.
-- The rollups' `ip` columns below are numbers of this table without a declared foreign key, as
-- in SQLite: the writer numbers an address in the same transaction, rows here are never
-- deleted, and a check per rollup row (a trigger and a row lock on source_ips) cost more than
-- the upsert itself.
CREATE TABLE source_ips (
  id BIGSERIAL PRIMARY KEY,
  ip TEXT NOT NULL UNIQUE
);

-- domain in byte order (COLLATE "C", as SQLite compares): the dashboard reads a range of days in
-- primary key order, the order SQLite reads them in, without sorting.
CREATE TABLE daily_sources (
  day BIGINT NOT NULL,
  domain TEXT COLLATE "C" NOT NULL,
  ip BIGINT NOT NULL,  -- source_ips (id)
  messages BIGINT NOT NULL,
  records BIGINT NOT NULL,
  dmarc_pass BIGINT NOT NULL,
  spf_aligned BIGINT NOT NULL,
  dkim_aligned BIGINT NOT NULL,
  PRIMARY KEY (day, domain, ip)
);

CREATE TABLE source_totals (
  domain TEXT NOT NULL,
  ip BIGINT NOT NULL,  -- source_ips (id)
  records BIGINT NOT NULL,
  messages BIGINT NOT NULL,
  dmarc_pass BIGINT NOT NULL,
  spf_aligned BIGINT NOT NULL,
  dkim_aligned BIGINT NOT NULL,
  PRIMARY KEY (domain, ip)
);

CREATE TABLE ip_totals (
  ip BIGINT PRIMARY KEY,  -- source_ips (id)
  records BIGINT NOT NULL,
  messages BIGINT NOT NULL,
  dmarc_pass BIGINT NOT NULL,
  spf_aligned BIGINT NOT NULL,
  dkim_aligned BIGINT NOT NULL
);

CREATE TABLE report_totals (
  report BIGINT PRIMARY KEY REFERENCES aggregate_reports (id) ON DELETE CASCADE,
  messages BIGINT NOT NULL,
  dmarc_pass BIGINT NOT NULL
);

CREATE TABLE failure_reports (
  id BIGSERIAL PRIMARY KEY,
  arrival_ts BIGINT NOT NULL,
  reported_domain TEXT,
  source_ip TEXT,
  feedback_type TEXT,
  data TEXT NOT NULL,
  origin TEXT NOT NULL,
  imported_at BIGINT NOT NULL,
  dedup_key TEXT UNIQUE
);
CREATE INDEX failure_reports_arrival ON failure_reports (arrival_ts);
CREATE INDEX failure_reports_domain_arrival ON failure_reports (reported_domain, arrival_ts);

CREATE TABLE smtp_tls_reports (
  id BIGSERIAL PRIMARY KEY,
  organization_name TEXT NOT NULL,
  report_id TEXT NOT NULL,
  begin_ts BIGINT NOT NULL,
  end_ts BIGINT NOT NULL,
  contact_info TEXT,
  origin TEXT NOT NULL,
  imported_at BIGINT NOT NULL,
  errors TEXT NOT NULL DEFAULT '[]',
  UNIQUE (organization_name, report_id, begin_ts, end_ts)
);
CREATE INDEX smtp_tls_reports_begin ON smtp_tls_reports (begin_ts);

CREATE TABLE smtp_tls_policies (
  id BIGSERIAL PRIMARY KEY,
  report BIGINT NOT NULL REFERENCES smtp_tls_reports (id) ON DELETE CASCADE,
  policy_domain TEXT NOT NULL,
  policy_type TEXT NOT NULL,
  policy_strings TEXT,
  mx_host_patterns TEXT,
  successful_session_count BIGINT NOT NULL,
  failed_session_count BIGINT NOT NULL
);
CREATE INDEX smtp_tls_policies_report ON smtp_tls_policies (report);
CREATE INDEX smtp_tls_policies_domain ON smtp_tls_policies (policy_domain);

CREATE TABLE smtp_tls_failure_details (
  policy BIGINT NOT NULL REFERENCES smtp_tls_policies (id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  result_type TEXT NOT NULL,
  failed_session_count BIGINT NOT NULL,
  sending_mta_ip TEXT,
  receiving_ip TEXT,
  receiving_mx_hostname TEXT,
  receiving_mx_helo TEXT,
  additional_info_uri TEXT,
  failure_reason_code TEXT,
  PRIMARY KEY (policy, position)
);

CREATE TABLE rejected_blobs (
  sha256 TEXT PRIMARY KEY,
  size BIGINT NOT NULL,
  raw BYTEA NOT NULL
);

CREATE TABLE rejected_inputs (
  id BIGSERIAL PRIMARY KEY,
  received_at BIGINT NOT NULL,
  origin TEXT NOT NULL,
  reason TEXT NOT NULL,
  sha256 TEXT NOT NULL REFERENCES rejected_blobs (sha256),
  UNIQUE (sha256, origin, reason)
);
CREATE INDEX rejected_inputs_received ON rejected_inputs (received_at);

-- Reverse DNS and geolocation results, including failures, with an expiry (enrichment), and
-- what enrichment knows of each address beyond DNS (the sending service).
CREATE TABLE ip_info_cache (
  ip TEXT PRIMARY KEY,
  status TEXT NOT NULL,
  reverse_dns TEXT,
  base_domain TEXT,
  country TEXT,
  asn BIGINT,
  as_name TEXT,
  as_domain TEXT,
  name TEXT,
  type TEXT,
  resolved_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL
);
