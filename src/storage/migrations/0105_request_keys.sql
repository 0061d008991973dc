-- Idempotency keys of the batches clients post (POST /api/task_runs/batch and /api/logs/ with an
-- Idempotency-Key header, which Baton's remote client sends). A key is written in the same
-- transaction as its batch, so a key that is stored means the batch is durable, and a retry of a
-- batch the server committed but could not answer is answered without being written twice. Keys
-- count for a day; older ones are pruned by the writes (ix_request_key_created).
CREATE TABLE request_key (
  key TEXT PRIMARY KEY,
  created BIGINT NOT NULL       -- microseconds since the epoch, UTC
);
CREATE INDEX ix_request_key_created ON request_key (created);
