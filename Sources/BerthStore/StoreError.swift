import BerthCore

/// Failures of the job store that callers act on, beyond SQLite's own errors.
public enum StoreError: Error, CustomStringConvertible, Equatable {
    /// The database was migrated by a newer berth than this one.
    case newerSchema(path: String, databaseVersion: Int, supportedVersion: Int)
    /// No job has this id.
    case jobNotFound(Int64)
    /// The job's state does not allow the requested change.
    case illegalTransition(jobID: Int64, IllegalTransition)
    /// The worker no longer holds the job's lease: another worker rescued the
    /// job, or an operator changed it. The worker must stop its container.
    case leaseLost(Lease)
    /// The database file or its directory could not be prepared.
    case cannotCreate(path: String, reason: String)
    /// The file at the database path is not an SQLite database.
    case notADatabase(path: String)
    /// No checkpoint of the job matches.
    case checkpointNotFound(jobID: Int64, name: String)

    public var description: String {
        switch self {
        case .newerSchema(let path, let databaseVersion, let supportedVersion):
            "database \(path) has schema version \(databaseVersion), but this berth supports versions up to \(supportedVersion); upgrade berth on this host, or point --db at another database"
        case .jobNotFound(let id):
            "job \(id) not found; `berth ls` lists existing jobs"
        case .illegalTransition(let id, let transition):
            "job \(id): \(transition)"
        case .leaseLost(let lease):
            "lease on job \(lease.jobID) attempt \(lease.attempt) is no longer held by worker \(lease.owner)"
        case .cannotCreate(let path, let reason):
            "cannot create database \(path): \(reason)"
        case .notADatabase(let path):
            "\(path) exists but is not an SQLite database; point --db at a berth database or at a new path"
        case .checkpointNotFound(let jobID, let name):
            "job \(jobID) has no checkpoint named \(name); `berth checkpoints \(jobID)` lists them"
        }
    }
}
