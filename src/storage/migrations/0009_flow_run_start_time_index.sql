-- ix_flow_run_start_time held an entry for every run, NULL until the run starts: creating a run
-- inserted one among the NULLs (not at the end of the index) and its first RUNNING moved it to the
-- end, two index writes where one does. Only runs that have started are indexed now; filters on
-- start_time (after_/before_) imply it is not NULL, so they use the index as before.
DROP INDEX ix_flow_run_start_time;
CREATE INDEX ix_flow_run_start_time ON flow_run (start_time) WHERE start_time IS NOT NULL;
