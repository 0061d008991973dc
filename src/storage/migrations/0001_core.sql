-- Core tables: flows, flow runs, task runs, their state histories, logs.
-- Portable SQL (SQLite and PostgreSQL). Times are BIGINT microseconds since the Unix epoch (UTC);
-- JSON values are TEXT; ids are UUIDv7 text, so inserts append to every id-led index.
-- Runs carry their current state's columns (denormalised for filtering) and state_id, the row
-- in the state table that holds the whole current state.

CREATE TABLE flow (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  tags TEXT NOT NULL DEFAULT '[]',
  created BIGINT NOT NULL,
  updated BIGINT NOT NULL
);

CREATE TABLE flow_run (
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
  -- "hostname:pid:process-start-ticks" of the process that took the run to RUNNING, so that
  -- tooling can tell a run whose process died (and mark it Crashed) from one still running.
  infrastructure_pid TEXT,
  heartbeat BIGINT,
  UNIQUE (flow_id, idempotency_key)
);
CREATE INDEX ix_flow_run_flow_name ON flow_run (flow_name);
CREATE INDEX ix_flow_run_state_type ON flow_run (state_type);
CREATE INDEX ix_flow_run_expected_start_time ON flow_run (expected_start_time);
CREATE INDEX ix_flow_run_start_time ON flow_run (start_time);
CREATE INDEX ix_flow_run_next_scheduled ON flow_run (state_type, next_scheduled_start_time);
CREATE INDEX ix_flow_run_parent_task_run_id ON flow_run (parent_task_run_id)
  WHERE parent_task_run_id IS NOT NULL;
CREATE INDEX ix_flow_run_deployment_id ON flow_run (deployment_id) WHERE deployment_id IS NOT NULL;

CREATE TABLE flow_run_state (
  id TEXT PRIMARY KEY,
  flow_run_id TEXT NOT NULL,
  type TEXT NOT NULL,
  name TEXT NOT NULL,
  message TEXT NOT NULL DEFAULT '',
  timestamp BIGINT NOT NULL,
  scheduled_time BIGINT,
  data TEXT,
  cache_key TEXT,
  cache_expiration BIGINT,
  retriable INTEGER NOT NULL DEFAULT 1,
  transition_id TEXT
);
CREATE INDEX ix_flow_run_state_flow_run_id ON flow_run_state (flow_run_id, timestamp);

CREATE TABLE task_run (
  id TEXT PRIMARY KEY,
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
);
CREATE INDEX ix_task_run_flow_run_id ON task_run (flow_run_id);

CREATE TABLE task_run_state (
  id TEXT PRIMARY KEY,
  task_run_id TEXT NOT NULL,
  type TEXT NOT NULL,
  name TEXT NOT NULL,
  message TEXT NOT NULL DEFAULT '',
  timestamp BIGINT NOT NULL,
  scheduled_time BIGINT,
  data TEXT,
  cache_key TEXT,
  cache_expiration BIGINT,
  retriable INTEGER NOT NULL DEFAULT 1,
  transition_id TEXT
);
CREATE INDEX ix_task_run_state_task_run_id ON task_run_state (task_run_id, timestamp);
-- CacheRetrieval: the newest COMPLETED state stored under a cache key.
CREATE INDEX ix_task_run_state_cache_key ON task_run_state (cache_key, timestamp)
  WHERE cache_key IS NOT NULL AND type = 'COMPLETED';

CREATE TABLE log (
  id TEXT PRIMARY KEY,
  flow_run_id TEXT,
  task_run_id TEXT,
  name TEXT NOT NULL,
  level INTEGER NOT NULL,
  message TEXT NOT NULL,
  timestamp BIGINT NOT NULL
);
CREATE INDEX ix_log_flow_run_id ON log (flow_run_id, timestamp);
CREATE INDEX ix_log_task_run_id ON log (task_run_id) WHERE task_run_id IS NOT NULL;
