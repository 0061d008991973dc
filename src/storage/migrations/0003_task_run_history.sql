-- Task-run state histories move into the run row: recording a task run's states becomes one row
-- write (its run row, with the states appended to `history`) instead of one row per state plus
-- the run row. `history` is text both SQLite and PostgreSQL append to with `||` in an upsert:
-- one JSON object per state, each ending in a newline, the object's first member its "id"
-- (see docs/storage.md). The run's current state is the entry whose id is state_id.
--
-- The run row's cache_key/cache_expiration now carry its current state's cache key, so that
-- CacheRetrieval's lookup (the newest COMPLETED run under a key) is one index range.
ALTER TABLE task_run ADD COLUMN history TEXT NOT NULL DEFAULT '';
CREATE INDEX ix_task_run_cache_key ON task_run (cache_key, state_timestamp)
  WHERE cache_key IS NOT NULL AND state_type = 'COMPLETED';
