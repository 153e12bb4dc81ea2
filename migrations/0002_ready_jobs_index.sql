-- An index in the claim's own order for claims that name no queue.
--
-- Without it, the claim of any queue read every ready job through
-- jobs_by_state and sorted them all in a temporary B-tree, so each claim took
-- time in proportion to the number of ready jobs. With it, the claim reads
-- ready rows in order and stops at the first one whose run_at has come.
-- The claim names the index with INDEXED BY, because the planner prefers
-- jobs_by_state when the database has no statistics.
CREATE INDEX jobs_ready ON jobs (priority DESC, run_at, id)
    WHERE state IN ('queued', 'failed');
