-- Variables (named JSON values) and artifacts (markdown, tables, links produced by runs; keyed
-- artifacts keep their history: every version is a row, the newest per key is "latest").
CREATE TABLE variable (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  value TEXT NOT NULL,          -- JSON
  tags TEXT NOT NULL,           -- JSON array
  created BIGINT NOT NULL,
  updated BIGINT NOT NULL
);

CREATE TABLE artifact (
  id TEXT PRIMARY KEY,
  key TEXT,                     -- NULL for unkeyed artifacts
  type TEXT NOT NULL,           -- markdown, table, link
  description TEXT,
  data TEXT NOT NULL,           -- JSON
  flow_run_id TEXT,
  task_run_id TEXT,
  created BIGINT NOT NULL
);
CREATE INDEX ix_artifact_key ON artifact (key, created);
CREATE INDEX ix_artifact_flow_run ON artifact (flow_run_id, created);
