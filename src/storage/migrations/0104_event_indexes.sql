-- Every flow-run create and transition writes an event row, and every index of the event table is
-- a page (a WAL frame) more per commit. ix_event_name (event, occurred) was the dearest of them: a
-- commit inserts into as many places in it as there are state names in the commit (Scheduled,
-- Pending, Running, Completed...), each away from the end of the index, where a full leaf is split
-- by rewriting its neighbours: a fifth of a commit's frames with 8 or 64 runs in flight.
-- Filters by name are served instead by ix_event_occurred, which now carries the name: a filter
-- reads that index in (occurred, id) order, the order it returns, and tests the name without
-- reading the row; with an occurred window it reads only the window.
DROP INDEX ix_event_name;
DROP INDEX ix_event_occurred;
CREATE INDEX ix_event_occurred ON event (occurred, id, event);
