-- Migration 14: a record's DKIM, SPF and policy-override results move into the record's own row,
-- as JSON arrays in the reporter's order (NULL: none), the layout PostgreSQL has had from its
-- first migration (store/auth_json.h):
--   dkim       [{"domain", "selector", "result", "human_result"?}, ...]
--   spf        [{"domain", "scope", "result", "human_result"?}, ...]
--   overrides  [{"type", "comment"}, ...]
-- One row per record instead of three or more: the import's writer inserted a row into
-- aggregate_dkim and one into aggregate_spf for nearly every record, a third of its b-tree work.
-- The tables' rows are copied over, then the tables dropped.
ALTER TABLE aggregate_records ADD COLUMN dkim TEXT;
ALTER TABLE aggregate_records ADD COLUMN spf TEXT;
ALTER TABLE aggregate_records ADD COLUMN overrides TEXT;

-- One correlated lookup per record (the tables' primary keys start with the record): no grouping
-- of the whole table in memory, whatever the store's size.
UPDATE aggregate_records SET dkim = (
  SELECT json_group_array(CASE WHEN human_result IS NULL
      THEN json_object('domain', domain, 'selector', selector, 'result', result)
      ELSE json_object('domain', domain, 'selector', selector, 'result', result,
                       'human_result', human_result) END)
  FROM (SELECT * FROM aggregate_dkim d WHERE d.record = aggregate_records.id ORDER BY position))
WHERE EXISTS (SELECT 1 FROM aggregate_dkim d WHERE d.record = aggregate_records.id);

UPDATE aggregate_records SET spf = (
  SELECT json_group_array(CASE WHEN human_result IS NULL
      THEN json_object('domain', domain, 'scope', scope, 'result', result)
      ELSE json_object('domain', domain, 'scope', scope, 'result', result,
                       'human_result', human_result) END)
  FROM (SELECT * FROM aggregate_spf s WHERE s.record = aggregate_records.id ORDER BY position))
WHERE EXISTS (SELECT 1 FROM aggregate_spf s WHERE s.record = aggregate_records.id);

UPDATE aggregate_records SET overrides = (
  SELECT json_group_array(json_object('type', type, 'comment', comment))
  FROM (SELECT * FROM aggregate_overrides o WHERE o.record = aggregate_records.id
        ORDER BY position))
WHERE EXISTS (SELECT 1 FROM aggregate_overrides o WHERE o.record = aggregate_records.id);

DROP TABLE aggregate_dkim;
DROP TABLE aggregate_spf;
DROP TABLE aggregate_overrides;
