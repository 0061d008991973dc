-- Retention (src/services/retention_service.h) deletes runs in a final state that ended before a
-- cutoff, oldest end first: one range of this index instead of a scan of every run. Only final
-- runs are in it, so a run gets its entry once, when it ends (at the end of the index, end times
-- growing), and leaves it only if a retry takes it out of its final state. Queries must repeat
-- the state list word for word for SQLite to use the index (SqliteStorage::kFinalStateTypes).
CREATE INDEX ix_flow_run_final_end_time ON flow_run (end_time, id)
  WHERE state_type IN ('COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED');
