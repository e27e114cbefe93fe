-- Migration 14: a record's DKIM, SPF and policy-override results move into the record's own row,
-- as JSON arrays in the reporter's order (NULL: none), the layout PostgreSQL has had from its
-- first migration (store/auth_json.h):
--   dkim       [{"domain", "selector", "result", "human_result"?}, ...]
--   spf        [{"domain", "scope", "result", "human_result"?}, ...]
--   overrides  [{"type", "comment"}, ...]
-- One row per record instead of three or more: the import's writer inserted a row into
-- aggregate_dkim and one into aggregate_spf for nearly every record, a third of its b-tree work.
-- The tables' rows are copied over (one pass over each, grouped by record), then dropped.
ALTER TABLE aggregate_records ADD COLUMN dkim TEXT;
ALTER TABLE aggregate_records ADD COLUMN spf TEXT;
ALTER TABLE aggregate_records ADD COLUMN overrides TEXT;

UPDATE aggregate_records SET dkim = x.list FROM (
  SELECT record, json_group_array(CASE WHEN human_result IS NULL
      THEN json_object('domain', domain, 'selector', selector, 'result', result)
      ELSE json_object('domain', domain, 'selector', selector, 'result', result,
                       'human_result', human_result) END) AS list
  FROM (SELECT * FROM aggregate_dkim ORDER BY record, position) GROUP BY record) AS x
WHERE aggregate_records.id = x.record;

UPDATE aggregate_records SET spf = x.list FROM (
  SELECT record, json_group_array(CASE WHEN human_result IS NULL
      THEN json_object('domain', domain, 'scope', scope, 'result', result)
      ELSE json_object('domain', domain, 'scope', scope, 'result', result,
                       'human_result', human_result) END) AS list
  FROM (SELECT * FROM aggregate_spf ORDER BY record, position) GROUP BY record) AS x
WHERE aggregate_records.id = x.record;

UPDATE aggregate_records SET overrides = x.list FROM (
  SELECT record, json_group_array(json_object('type', type, 'comment', comment)) AS list
  FROM (SELECT * FROM aggregate_overrides ORDER BY record, position) GROUP BY record) AS x
WHERE aggregate_records.id = x.record;

DROP TABLE aggregate_dkim;
DROP TABLE aggregate_spf;
DROP TABLE aggregate_overrides;
