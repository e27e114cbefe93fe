-- Migration 6: the XML each aggregate report was parsed from, as received, gzip-compressed
-- (`encoding`); `size` is its uncompressed length. Reports imported before have none.

CREATE TABLE aggregate_raw (
  report INTEGER PRIMARY KEY REFERENCES aggregate_reports (id) ON DELETE CASCADE,
  encoding TEXT NOT NULL,
  size INTEGER NOT NULL,
  bytes BLOB NOT NULL
);
