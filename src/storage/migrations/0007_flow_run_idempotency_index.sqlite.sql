-- SQLite: the idempotency key's uniqueness becomes a partial unique index over the runs that have
-- a key. The table-level UNIQUE (flow_id, idempotency_key) of 0001 gave every run an entry though
-- runs without a key (NULL) never conflict: one index page more (a WAL page per commit) for every
-- run created. A table constraint cannot be dropped in SQLite, so the table is rebuilt, rowids
-- kept (rows stay in creation order), with the other indexes of 0001/0006 as they were.
CREATE TABLE flow_run_new (
  id TEXT PRIMARY KEY,
  flow_id TEXT NOT NULL,
  flow_name TEXT NOT NULL,
  name TEXT NOT NULL,
  deployment_id TEXT,
  parent_task_run_id TEXT,
  idempotency_key TEXT,
  parameters TEXT NOT NULL DEFAULT '{}',
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
  next_scheduled_start_time BIGINT,
  start_time BIGINT,
  end_time BIGINT,
  total_run_time DOUBLE PRECISION NOT NULL DEFAULT 0,
  infrastructure_pid TEXT,
  heartbeat BIGINT
);
INSERT INTO flow_run_new (rowid, id, flow_id, flow_name, name, deployment_id, parent_task_run_id,
  idempotency_key, parameters, tags, empirical_policy, state_id, state_type, state_name,
  state_timestamp, run_count, created, updated, expected_start_time, next_scheduled_start_time,
  start_time, end_time, total_run_time, infrastructure_pid, heartbeat)
SELECT rowid, id, flow_id, flow_name, name, deployment_id, parent_task_run_id, idempotency_key,
  parameters, tags, empirical_policy, state_id, state_type, state_name, state_timestamp,
  run_count, created, updated, expected_start_time, next_scheduled_start_time, start_time,
  end_time, total_run_time, infrastructure_pid, heartbeat
FROM flow_run ORDER BY rowid;
DROP TABLE flow_run;
ALTER TABLE flow_run_new RENAME TO flow_run;
CREATE UNIQUE INDEX ux_flow_run_idempotency_key ON flow_run (flow_id, idempotency_key)
  WHERE idempotency_key IS NOT NULL;
CREATE INDEX ix_flow_run_flow_name ON flow_run (flow_name);
CREATE INDEX ix_flow_run_expected_start_time ON flow_run (expected_start_time);
CREATE INDEX ix_flow_run_start_time ON flow_run (start_time);
CREATE INDEX ix_flow_run_next_scheduled ON flow_run (state_type, next_scheduled_start_time);
CREATE INDEX ix_flow_run_parent_task_run_id ON flow_run (parent_task_run_id)
  WHERE parent_task_run_id IS NOT NULL;
CREATE INDEX ix_flow_run_deployment_id ON flow_run (deployment_id) WHERE deployment_id IS NOT NULL;
