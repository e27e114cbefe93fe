-- Migration 1: the schema of the first release (schema version 1).
-- Each file migrates the schema from version N - 1 to N; they run in order, all in one
-- transaction, when a store is opened. Never edit a released file: add a new one.

CREATE TABLE aggregate_reports (
  id INTEGER PRIMARY KEY,
  org_name TEXT NOT NULL,
  org_email TEXT NOT NULL,
  org_extra_contact_info TEXT,
  report_id TEXT NOT NULL,
  begin_ts INTEGER NOT NULL,
  end_ts INTEGER NOT NULL,
  domain TEXT NOT NULL,
  xml_schema TEXT NOT NULL,
  xml_namespace TEXT,
  generator TEXT,
  timespan_requires_normalization INTEGER NOT NULL,
  original_timespan_seconds INTEGER NOT NULL,
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
  imported_at INTEGER NOT NULL,
  -- The report's rows are aggregate_records first_record .. first_record + record_count - 1:
  -- one writer inserts them consecutively in one transaction, so no index on `report` is needed.
  first_record INTEGER,
  record_count INTEGER NOT NULL DEFAULT 0,
  UNIQUE (org_name, report_id, domain, begin_ts, end_ts)
);
CREATE INDEX aggregate_reports_domain_begin ON aggregate_reports (domain, begin_ts);
CREATE INDEX aggregate_reports_begin ON aggregate_reports (begin_ts);

CREATE TABLE aggregate_records (
  id INTEGER PRIMARY KEY,
  report INTEGER NOT NULL REFERENCES aggregate_reports (id) ON DELETE CASCADE,
  domain TEXT NOT NULL,
  day INTEGER NOT NULL,
  interval_begin INTEGER NOT NULL,
  interval_end INTEGER NOT NULL,
  normalized_timespan INTEGER NOT NULL,
  source_ip TEXT NOT NULL,
  source_country TEXT,
  source_reverse_dns TEXT,
  source_base_domain TEXT,
  source_name TEXT,
  source_type TEXT,
  source_asn INTEGER,
  source_as_name TEXT,
  source_as_domain TEXT,
  count INTEGER NOT NULL,
  spf_aligned INTEGER NOT NULL,
  dkim_aligned INTEGER NOT NULL,
  dmarc_aligned INTEGER NOT NULL,
  disposition TEXT NOT NULL,
  policy_dkim TEXT NOT NULL,
  policy_spf TEXT NOT NULL,
  header_from TEXT NOT NULL,
  envelope_from TEXT,
  envelope_to TEXT
);
-- No secondary index yet: every index costs each of millions of inserts, and today's queries
-- use the rollups and id ranges. The dashboard adds the ones its queries need, measured.

CREATE TABLE aggregate_dkim (
  record INTEGER NOT NULL REFERENCES aggregate_records (id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  domain TEXT NOT NULL,
  selector TEXT NOT NULL,
  result TEXT NOT NULL,
  human_result TEXT,
  PRIMARY KEY (record, position)
) WITHOUT ROWID;

CREATE TABLE aggregate_spf (
  record INTEGER NOT NULL REFERENCES aggregate_records (id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  domain TEXT NOT NULL,
  scope TEXT NOT NULL,
  result TEXT NOT NULL,
  human_result TEXT,
  PRIMARY KEY (record, position)
) WITHOUT ROWID;

CREATE TABLE aggregate_overrides (
  record INTEGER NOT NULL REFERENCES aggregate_records (id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  type TEXT,
  comment TEXT,
  PRIMARY KEY (record, position)
) WITHOUT ROWID;

-- Daily rollups, maintained in the same transaction as the records, so stats never scan them.
CREATE TABLE daily_messages (
  day INTEGER NOT NULL,
  domain TEXT NOT NULL,
  header_from TEXT NOT NULL,
  disposition TEXT NOT NULL,
  records INTEGER NOT NULL,
  messages INTEGER NOT NULL,
  dmarc_pass INTEGER NOT NULL,
  PRIMARY KEY (day, domain, header_from, disposition)
) WITHOUT ROWID;

-- Every source IP ever seen, numbered: distinct counts compare integers, not text.
CREATE TABLE source_ips (
  id INTEGER PRIMARY KEY,
  ip TEXT NOT NULL UNIQUE
);

CREATE TABLE daily_sources (
  day INTEGER NOT NULL,
  domain TEXT NOT NULL,
  ip INTEGER NOT NULL REFERENCES source_ips (id),
  messages INTEGER NOT NULL,
  PRIMARY KEY (day, domain, ip)
) WITHOUT ROWID;

CREATE TABLE failure_reports (
  id INTEGER PRIMARY KEY,
  arrival_ts INTEGER NOT NULL,
  reported_domain TEXT,
  source_ip TEXT,
  feedback_type TEXT,
  data TEXT NOT NULL,
  origin TEXT NOT NULL,
  imported_at INTEGER NOT NULL
);
CREATE INDEX failure_reports_arrival ON failure_reports (arrival_ts);

CREATE TABLE smtp_tls_reports (
  id INTEGER PRIMARY KEY,
  organization_name TEXT NOT NULL,
  report_id TEXT NOT NULL,
  begin_ts INTEGER NOT NULL,
  end_ts INTEGER NOT NULL,
  contact_info TEXT,
  origin TEXT NOT NULL,
  imported_at INTEGER NOT NULL,
  UNIQUE (organization_name, report_id, begin_ts, end_ts)
);
CREATE INDEX smtp_tls_reports_begin ON smtp_tls_reports (begin_ts);

CREATE TABLE smtp_tls_policies (
  id INTEGER PRIMARY KEY,
  report INTEGER NOT NULL REFERENCES smtp_tls_reports (id) ON DELETE CASCADE,
  policy_domain TEXT NOT NULL,
  policy_type TEXT NOT NULL,
  policy_strings TEXT,
  mx_host_patterns TEXT,
  successful_session_count INTEGER NOT NULL,
  failed_session_count INTEGER NOT NULL
);
CREATE INDEX smtp_tls_policies_report ON smtp_tls_policies (report);

CREATE TABLE smtp_tls_failure_details (
  policy INTEGER NOT NULL REFERENCES smtp_tls_policies (id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  result_type TEXT NOT NULL,
  failed_session_count INTEGER NOT NULL,
  sending_mta_ip TEXT,
  receiving_ip TEXT,
  receiving_mx_hostname TEXT,
  receiving_mx_helo TEXT,
  additional_info_uri TEXT,
  failure_reason_code TEXT,
  PRIMARY KEY (policy, position)
) WITHOUT ROWID;

CREATE TABLE rejected_blobs (
  sha256 TEXT PRIMARY KEY,
  size INTEGER NOT NULL,
  raw BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE rejected_inputs (
  id INTEGER PRIMARY KEY,
  received_at INTEGER NOT NULL,
  origin TEXT NOT NULL,
  reason TEXT NOT NULL,
  sha256 TEXT NOT NULL REFERENCES rejected_blobs (sha256),
  UNIQUE (sha256, origin, reason)
);
CREATE INDEX rejected_inputs_received ON rejected_inputs (received_at);

-- Reverse DNS and geolocation results, including failures, with an expiry (enrichment).
CREATE TABLE ip_info_cache (
  ip TEXT PRIMARY KEY,
  status TEXT NOT NULL,
  reverse_dns TEXT,
  base_domain TEXT,
  country TEXT,
  asn INTEGER,
  as_name TEXT,
  as_domain TEXT,
  resolved_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
