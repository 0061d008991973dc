-- Global concurrency limits (Prefect's v2 limits). Slots held in "concurrency" mode are leases
-- that expire unless renewed, so a client that dies does not hold its slots forever. A limit with
-- slot_decay_per_second > 0 is a rate limit: taken slots drain away at that rate (decayed_slots
-- as of decayed_at). Task-run tag limits are global limits named "tag:<tag>".
CREATE TABLE concurrency_limit (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  slot_limit INTEGER NOT NULL,
  active INTEGER NOT NULL DEFAULT 1,
  slot_decay_per_second REAL NOT NULL DEFAULT 0,
  decayed_slots REAL NOT NULL DEFAULT 0,
  decayed_at BIGINT NOT NULL,
  denied_slots INTEGER NOT NULL DEFAULT 0,
  created BIGINT NOT NULL,
  updated BIGINT NOT NULL
);

CREATE TABLE concurrency_lease (
  id TEXT NOT NULL,             -- one lease may hold slots of several limits
  limit_id TEXT NOT NULL REFERENCES concurrency_limit (id) ON DELETE CASCADE,
  slots INTEGER NOT NULL,
  expires BIGINT NOT NULL,      -- microseconds since the epoch
  holder TEXT,
  PRIMARY KEY (id, limit_id)
);
CREATE INDEX ix_concurrency_lease_limit ON concurrency_lease (limit_id, expires);
