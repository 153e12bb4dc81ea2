-- Drops the index on lease_expires_at.
--
-- Every claim inserted into it, every lease renewal moved the job in it and
-- every finish deleted from it, so each of those transactions wrote one more
-- page to the WAL. Its only reader, the search for expired leases, looks at
-- running jobs alone, which jobs_by_state finds by their state. Running jobs
-- are few: those the workers run now and those of workers that stopped.
DROP INDEX jobs_leases;
