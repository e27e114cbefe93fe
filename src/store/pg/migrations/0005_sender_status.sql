-- Migration 5: the status an administrator gave a sender of a policy domain (docs/senders.md):
-- approved, unapproved or forwarder, with who set it and when. A sender without a row is
-- "unknown". `sender` is the inventory's sender key (a service name, a base domain, "AS64500").
CREATE TABLE IF NOT EXISTS sender_status (
  domain TEXT NOT NULL,
  sender TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('approved', 'unapproved', 'forwarder')),
  changed_by TEXT NOT NULL,
  changed_at BIGINT NOT NULL,
  PRIMARY KEY (domain, sender)
);
