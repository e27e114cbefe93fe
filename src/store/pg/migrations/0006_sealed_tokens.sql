-- Migration 6: refresh tokens of delegated sign-ins (`dmarc-report login`, docs/security.md),
-- sealed with AES-256-GCM under a key that is not in the store: per (source kind, identity) the
-- nonce and ciphertext (hex), and who saved it when.
CREATE TABLE IF NOT EXISTS sealed_tokens (
  kind TEXT NOT NULL,
  identity TEXT NOT NULL,
  nonce TEXT NOT NULL,
  ciphertext TEXT NOT NULL,
  saved_by TEXT NOT NULL,
  saved_at BIGINT NOT NULL,
  PRIMARY KEY (kind, identity)
);
