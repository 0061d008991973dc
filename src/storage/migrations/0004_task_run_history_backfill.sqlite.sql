-- SQLite: copy each task run's rows of task_run_state into its history (0003), oldest first,
-- set the run's cache key from its current state, and drop the state table. A PostgreSQL backend
-- does the same with json_build_object/string_agg in 0004_task_run_history_backfill.postgres.sql.
UPDATE task_run SET history = COALESCE((
  SELECT group_concat(entry, '') FROM (
    SELECT json_object('id', s.id, 'type', s.type, 'name', s.name, 'message', s.message,
                       'timestamp', s.timestamp, 'scheduled_time', s.scheduled_time,
                       'data', json(s.data), 'cache_key', s.cache_key,
                       'cache_expiration', s.cache_expiration, 'retriable', s.retriable,
                       'transition_id', s.transition_id) || char(10) AS entry
    FROM task_run_state s WHERE s.task_run_id = task_run.id ORDER BY s.timestamp, s.id)), '');
UPDATE task_run SET
  cache_key = COALESCE(s.cache_key, task_run.cache_key),
  cache_expiration = CASE WHEN s.cache_key IS NULL THEN task_run.cache_expiration
                          ELSE s.cache_expiration END
FROM (SELECT task_run_id, id, cache_key, cache_expiration FROM task_run_state) AS s
WHERE s.task_run_id = task_run.id AND s.id = task_run.state_id;
DROP TABLE task_run_state;
