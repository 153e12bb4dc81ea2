-- The initial berth schema.
--
-- Times are integer Unix milliseconds in UTC, so they compare as numbers.
-- Job states are those of JobState in the BerthCore target; the CHECK below
-- must list the same names.

CREATE TABLE jobs (
    -- AUTOINCREMENT: an id is never reused after its job is pruned, because
    -- the job's workspace, checkpoint store and container names are keyed by it.
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    queue             TEXT    NOT NULL,
    state             TEXT    NOT NULL CHECK (state IN
                          ('held', 'queued', 'running', 'waiting', 'failed',
                           'succeeded', 'dead', 'cancelled')),
    priority          INTEGER NOT NULL DEFAULT 0,
    run_at            INTEGER NOT NULL,
    -- The job spec as submitted, in its canonical JSON form.
    spec              TEXT    NOT NULL,
    idempotency_key   TEXT    UNIQUE,
    -- Number of attempts claimed so far; the current attempt while running.
    attempt           INTEGER NOT NULL DEFAULT 0,
    -- Attempts that count against the retry policy; a drain or shutdown does not.
    attempts_used     INTEGER NOT NULL DEFAULT 0,
    lease_owner       TEXT,
    lease_expires_at  INTEGER,
    cancel_requested  INTEGER NOT NULL DEFAULT 0,
    -- Checkpoint the next attempt must start from, when an operator chose one.
    resume_from       INTEGER,
    -- JSON describing what a waiting job waits for, and the answer given to it.
    pending_input     TEXT,
    input_answer      TEXT,
    last_error        TEXT,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    finished_at       INTEGER
);

-- The claim scans only claimable rows, so finished jobs never slow it down.
CREATE INDEX jobs_claimable ON jobs (queue, priority DESC, run_at, id)
    WHERE state IN ('queued', 'failed');

-- Rescue of jobs whose worker stopped renewing its lease.
CREATE INDEX jobs_leases ON jobs (lease_expires_at)
    WHERE state = 'running';

-- Listing by state, newest first, and counting by queue and state.
CREATE INDEX jobs_by_state ON jobs (state, queue, id);

-- Pruning finished jobs by age.
CREATE INDEX jobs_finished ON jobs (finished_at)
    WHERE finished_at IS NOT NULL;

CREATE TABLE attempts (
    job_id          INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    attempt         INTEGER NOT NULL,
    worker_id       TEXT    NOT NULL,
    container_name  TEXT,
    container_id    TEXT,
    claimed_at      INTEGER NOT NULL,
    started_at      INTEGER,
    finished_at     INTEGER,
    exit_code       INTEGER,
    -- succeeded, failed, out_of_memory, timed_out, cancelled, lost, start_failed,
    -- interrupted, waiting_for_input
    outcome         TEXT,
    -- What the daemon meant to do before it signalled the container: timeout, cancel, drain.
    stop_intent     TEXT,
    message         TEXT,
    -- The effective isolation and limit flags, as JSON.
    run_settings    TEXT,
    -- The checkpoint (checkpoints.id) the attempt started from.
    resumed_from    INTEGER,
    stored_bytes    INTEGER NOT NULL DEFAULT 0,
    dropped_lines   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, attempt)
);

-- Lines a job printed on standard output. A re-read stream cannot duplicate
-- rows because (job_id, attempt, seq) is unique.
CREATE TABLE events (
    job_id     INTEGER NOT NULL,
    attempt    INTEGER NOT NULL,
    seq        INTEGER NOT NULL,
    at         INTEGER NOT NULL,
    -- The JSON object's "type" field; NULL for a line that is not a JSON object.
    type       TEXT,
    is_json    INTEGER NOT NULL,
    truncated  INTEGER NOT NULL DEFAULT 0,
    payload    TEXT    NOT NULL,
    UNIQUE (job_id, attempt, seq),
    FOREIGN KEY (job_id, attempt) REFERENCES attempts (job_id, attempt) ON DELETE CASCADE
);

-- Lines a job printed on standard error, the attempt's log.
CREATE TABLE logs (
    job_id     INTEGER NOT NULL,
    attempt    INTEGER NOT NULL,
    seq        INTEGER NOT NULL,
    at         INTEGER NOT NULL,
    truncated  INTEGER NOT NULL DEFAULT 0,
    line       TEXT    NOT NULL,
    UNIQUE (job_id, attempt, seq),
    FOREIGN KEY (job_id, attempt) REFERENCES attempts (job_id, attempt) ON DELETE CASCADE
);

-- Files a job wrote into its checkpoint directory, as captured by the daemon.
-- Row ids grow in capture order, so the newest checkpoint has the highest id.
CREATE TABLE checkpoints (
    id            INTEGER PRIMARY KEY,
    job_id        INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    -- The attempt during which the file was captured.
    attempt       INTEGER NOT NULL,
    -- The file name in the checkpoint directory, without any directory.
    name          TEXT    NOT NULL,
    -- Hex SHA-256 of the content; NULL for a refused file, which was not read.
    sha256        TEXT,
    size          INTEGER,
    -- Absolute path of the stored copy in the daemon's checkpoint store.
    stored_path   TEXT,
    -- 1 when the content passed the adapter's check and may be resumed from.
    valid         INTEGER NOT NULL DEFAULT 0,
    -- Why capture rejected the file; NULL when it was stored.
    refused_reason TEXT,
    -- What the adapter read from the content, as a JSON object (Perstack:
    -- checkpoint id, expert, status, step number, delegation).
    metadata      TEXT,
    -- 1 when an operator resumed the job from an earlier checkpoint, so this
    -- one is never chosen for a resume again.
    superseded    INTEGER NOT NULL DEFAULT 0,
    captured_at   INTEGER NOT NULL,
    UNIQUE (job_id, name, sha256)
);

CREATE INDEX checkpoints_by_job ON checkpoints (job_id, id);

CREATE TABLE workers (
    id            TEXT    PRIMARY KEY,
    host          TEXT    NOT NULL,
    pid           INTEGER NOT NULL,
    version       TEXT    NOT NULL,
    started_at    INTEGER NOT NULL,
    heartbeat_at  INTEGER NOT NULL,
    stopped_at    INTEGER,
    -- Unix datagram socket on which the worker's daemon accepts wake-ups from
    -- submitters on the same host.
    wake_socket   TEXT
);

-- Facts about the database itself.
CREATE TABLE database_info (
    name   TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);

-- A random id that tells this database's containers apart from those of other
-- databases on the same host, in container names and labels.
INSERT INTO database_info (name, value) VALUES ('database_id', lower(hex(randomblob(6))));
