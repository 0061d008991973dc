-- Progress artifacts change after they are created (PATCH /api/artifacts/{id}): when they last
-- did. NULL for versions never changed (their "updated" is their "created").
ALTER TABLE artifact ADD COLUMN updated BIGINT;
