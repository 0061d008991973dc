-- SQLite only: store task runs and both state histories clustered by their natural keys
-- (WITHOUT ROWID), so that recording a task-run state is one B-tree insert instead of three
-- (rowid table + id index + run index). States are keyed (run id, state id): a run's history is
-- one contiguous range, and since ids are UUIDv7 new rows append at the end of the tree.
-- PostgreSQL keeps 0001's layout (heap tables with the same indexes).

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
  total_run_time DOUBLE PRECISION NOT NULL DEFAULT 0
) WITHOUT ROWID;
INSERT INTO task_run_new SELECT id, flow_run_id, task_key, name, dynamic_key, cache_key,
  cache_expiration, task_inputs, tags, empirical_policy, state_id, state_type, state_name,
  state_timestamp, run_count, created, updated, expected_start_time, start_time, end_time,
  total_run_time FROM task_run;
DROP TABLE task_run;
ALTER TABLE task_run_new RENAME TO task_run;
CREATE INDEX ix_task_run_flow_run_id ON task_run (flow_run_id);

CREATE TABLE task_run_state_new (
  task_run_id TEXT NOT NULL,
  id TEXT NOT NULL,
  type TEXT NOT NULL,
  name TEXT NOT NULL,
  message TEXT NOT NULL DEFAULT '',
  timestamp BIGINT NOT NULL,
  scheduled_time BIGINT,
  data TEXT,
  cache_key TEXT,
  cache_expiration BIGINT,
  retriable INTEGER NOT NULL DEFAULT 1,
  transition_id TEXT,
  PRIMARY KEY (task_run_id, id)
) WITHOUT ROWID;
INSERT INTO task_run_state_new SELECT task_run_id, id, type, name, message, timestamp,
  scheduled_time, data, cache_key, cache_expiration, retriable, transition_id FROM task_run_state;
DROP TABLE task_run_state;
ALTER TABLE task_run_state_new RENAME TO task_run_state;
CREATE INDEX ix_task_run_state_cache_key ON task_run_state (cache_key, timestamp)
  WHERE cache_key IS NOT NULL AND type = 'COMPLETED';

CREATE TABLE flow_run_state_new (
  flow_run_id TEXT NOT NULL,
  id TEXT NOT NULL,
  type TEXT NOT NULL,
  name TEXT NOT NULL,
  message TEXT NOT NULL DEFAULT '',
  timestamp BIGINT NOT NULL,
  scheduled_time BIGINT,
  data TEXT,
  cache_key TEXT,
  cache_expiration BIGINT,
  retriable INTEGER NOT NULL DEFAULT 1,
  transition_id TEXT,
  PRIMARY KEY (flow_run_id, id)
) WITHOUT ROWID;
INSERT INTO flow_run_state_new SELECT flow_run_id, id, type, name, message, timestamp,
  scheduled_time, data, cache_key, cache_expiration, retriable, transition_id FROM flow_run_state;
DROP TABLE flow_run_state;
ALTER TABLE flow_run_state_new RENAME TO flow_run_state;
