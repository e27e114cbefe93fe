-- Migration 2: failure and SMTP TLS reports are stored (issue #5): the failure report's dedup
-- key, the recoveries made while parsing an SMTP TLS report.

ALTER TABLE failure_reports ADD COLUMN dedup_key TEXT;
CREATE UNIQUE INDEX failure_reports_dedup ON failure_reports (dedup_key);
CREATE INDEX failure_reports_domain_arrival ON failure_reports (reported_domain, arrival_ts);
ALTER TABLE smtp_tls_reports ADD COLUMN errors TEXT NOT NULL DEFAULT '[]';
CREATE INDEX smtp_tls_policies_domain ON smtp_tls_policies (policy_domain);
