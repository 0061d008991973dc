-- Events (server layer): every state change of every run, and events posted by clients.
-- Prefect's shape: the resource, related resources and payload are JSON text; the columns
-- filters use are split out and indexed.
CREATE TABLE event (
  id TEXT PRIMARY KEY,
  occurred BIGINT NOT NULL,      -- microseconds since the epoch, UTC
  event TEXT NOT NULL,           -- e.g. baton.flow-run.Completed
  resource_id TEXT NOT NULL,     -- resource["baton.resource.id"]
  resource TEXT NOT NULL,
  related TEXT NOT NULL,
  payload TEXT NOT NULL,
  received BIGINT NOT NULL
);
CREATE INDEX ix_event_occurred ON event (occurred, id);
CREATE INDEX ix_event_name ON event (event, occurred);
CREATE INDEX ix_event_resource ON event (resource_id, occurred);
