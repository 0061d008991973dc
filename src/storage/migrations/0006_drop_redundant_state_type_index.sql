-- ix_flow_run_next_scheduled (state_type, next_scheduled_start_time) already serves every lookup
-- by state type (its leading column), so ix_flow_run_state_type only cost one more index update,
-- one more WAL page, per flow-run transition.
DROP INDEX ix_flow_run_state_type;
