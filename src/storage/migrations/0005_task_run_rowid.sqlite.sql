-- SQLite: task_run back to a rowid table. Since 0003 a task run's row carries its whole state
-- history (a few hundred bytes), and SQLite appends wide rows to a rowid table far more cheaply
-- than to a WITHOUT ROWID one (a new last page instead of rebalancing full neighbours), even
-- counting the separate index on id. Ids are UUIDv7, so every index still appends.
CREATE TABLE task_run_new (
  id TEXT NOT NULL PRIMARY KEY,
  flow_run_id TEXT,
  task_key TEXT NOT NULL,
  name TEXT NOT NULL,
  dynamic_key TEXT NOT NULL DEFAULT '',
  cache_key TEXT,
  cache_expiration BIGINT,
  task_inputs TEXT NOT NULL DEFAULT '{}',
  tags TEXT NOT NULL DEFAULT '[]',
  empirical_policy TEXT NOT NULL DEFAULT '{}',
  state_id TEXT,
  state_type TEXT,
  state_name TEXT,
  state_timestamp BIGINT,
  run_count INTEGER NOT NULL DEFAULT 0,
  created BIGINT NOT NULL,
  updated BIGINT NOT NULL,
  expected_start_time BIGINT,
  start_time BIGINT,
  end_time BIGINT,
  total_run_time DOUBLE PRECISION NOT NULL DEFAULT 0,
  history TEXT NOT NULL DEFAULT ''
);
INSERT INTO task_run_new SELECT id, flow_run_id, task_key, name, dynamic_key, cache_key,
  cache_expiration, task_inputs, tags, empirical_policy, state_id, state_type, state_name,
  state_timestamp, run_count, created, updated, expected_start_time, start_time, end_time,
  total_run_time, history FROM task_run ORDER BY id;
DROP TABLE task_run;
ALTER TABLE task_run_new RENAME TO task_run;
CREATE INDEX ix_task_run_flow_run_id ON task_run (flow_run_id);
CREATE INDEX ix_task_run_cache_key ON task_run (cache_key, state_timestamp)
  WHERE cache_key IS NOT NULL AND state_type = 'COMPLETED';
