import BerthStore
import Foundation

// Deleting the directories of jobs that no longer need them on this host.
//
// A finished job keeps its workspace for `workspaceRetention`, so an operator
// can look at it or `berth retry` it in place. After that, a retry or resume
// rebuilds the workspace from the stored checkpoints. A pruned job's workspace
// and its emptied checkpoint directory go at the next sweep, and so does the
// container log directory of any finished job, which a crash can leave behind.

extension Daemon {
    /// Prefix of a directory that is being deleted. The rename takes it out of
    /// the job's path at once, and a sweep finishes what a crash interrupted.
    static let removalPrefix = ".removing-"

    func removeUnneededJobDirectories() async {
        guard ContinuousClock.now >= nextWorkspaceSweep else { return }
        // Often enough that a short retention is kept to, rarely enough that
        // listing the directories costs nothing.
        let retention = configuration.workspaceRetention.milliseconds
        nextWorkspaceSweep = ContinuousClock.now + .milliseconds(min(60_000, max(1_000, retention / 10)))

        let workspaces = configuration.directories.workspaces
        let checkpoints = configuration.directories.checkpoints
        let containerLogs = configuration.directories.resolvedContainerLogs
        let containerPrefix = ContainerLabels.containerNamePrefix(databaseID: databaseID)
        let (workspaceEntries, checkpointEntries, containerEntries) = await Self.offActor {
            (Self.jobDirectories(in: workspaces), Self.jobDirectories(in: checkpoints),
             Self.containerDirectories(in: containerLogs, prefix: containerPrefix))
        }
        let candidates = Set(workspaceEntries.jobIDs).union(checkpointEntries.jobIDs).filter { runners[$0] == nil }
        let containerJobIDs = Set(containerEntries.containers.map(\.jobID)).filter { runners[$0] == nil }

        var sorted: (finished: [Int64], pruned: [Int64]) = ([], [])
        var endedContainerJobs: Set<Int64> = []
        do {
            if !candidates.isEmpty {
                sorted = try await database.run { store in
                    try store.finishedOrPrunedJobs(Array(candidates), finishedBefore: Clock.nowMilliseconds() - retention)
                }
            }
            // A container's log is of no use once its job has finished, whatever the retention.
            if !containerJobIDs.isEmpty {
                let ended = try await database.run { store in
                    try store.finishedOrPrunedJobs(Array(containerJobIDs), finishedBefore: Clock.nowMilliseconds() + 1)
                }
                endedContainerJobs = Set(ended.finished + ended.pruned)
            }
        } catch {
            reportError("workspace cleanup", error)
            return
        }

        // Directories are renamed here, on the actor, so a job claimed from now
        // on gets a new directory. A claim made while the store was queried is
        // in `runners` and is skipped.
        var doomed = workspaceEntries.interrupted.map { workspaces + "/" + $0 }
            + checkpointEntries.interrupted.map { checkpoints + "/" + $0 }
            + containerEntries.interrupted.map { containerLogs + "/" + $0 }
        let workspaceIDs = Set(sorted.finished + sorted.pruned).intersection(workspaceEntries.jobIDs)
        let checkpointIDs = Set(sorted.pruned).intersection(checkpointEntries.jobIDs)
        var removable: [(root: String, name: String, jobID: Int64)] = []
        removable += workspaceIDs.sorted().map { (workspaces, "\($0)", $0) }
        removable += checkpointIDs.sorted().map { (checkpoints, "\($0)", $0) }
        removable += containerEntries.containers.filter { endedContainerJobs.contains($0.jobID) }.map { (containerLogs, $0.name, $0.jobID) }
        for (root, name, id) in removable where runners[id] == nil {
            let renamed = "\(root)/\(Self.removalPrefix)\(name)-\(UInt32.random(in: 0...UInt32.max))"
            if rename("\(root)/\(name)", renamed) == 0 {
                doomed.append(renamed)
            } else {
                logger.warning("cannot delete a job's directory", [
                    (.jobID, "\(id)"), (.directory, "\(root)/\(name)"), (.error, String(cString: strerror(errno))),
                ])
            }
        }
        guard !doomed.isEmpty else { return }

        let failures = await Self.offActor { [doomed] in
            doomed.compactMap { path -> (String, String)? in
                do {
                    try FileManager.default.removeItem(atPath: path)
                    return nil
                } catch {
                    return (path, error.localizedDescription)
                }
            }
        }
        for (path, reason) in failures {
            logger.warning("cannot delete a job's directory", [(.directory, path), (.error, reason)])
        }
        logger.debug("deleted \(doomed.count - failures.count) directories of finished and pruned jobs")
    }

    /// Lists the job ids named by the subdirectories of `root`, and the
    /// directories an earlier sweep renamed but did not finish deleting.
    private static func jobDirectories(in root: String) -> (jobIDs: [Int64], interrupted: [String]) {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: root) else { return ([], []) }
        var ids: [Int64] = []
        var interrupted: [String] = []
        for entry in entries {
            if let id = Int64(entry), id > 0, String(id) == entry {
                ids.append(id)
            } else if entry.hasPrefix(removalPrefix) {
                interrupted.append(entry)
            }
        }
        return (ids, interrupted)
    }

    /// Lists the directories of `root` named like this database's containers,
    /// `PREFIX<job>-<attempt>`, with their job ids, and the directories an
    /// earlier sweep renamed but did not finish deleting.
    private static func containerDirectories(in root: String, prefix: String) -> (containers: [(name: String, jobID: Int64)], interrupted: [String]) {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: root) else { return ([], []) }
        var containers: [(name: String, jobID: Int64)] = []
        var interrupted: [String] = []
        for entry in entries {
            if entry.hasPrefix(prefix) {
                let parts = entry.dropFirst(prefix.count).split(separator: "-")
                if parts.count == 2, let jobID = Int64(parts[0]), Int(parts[1]) != nil {
                    containers.append((entry, jobID))
                }
            } else if entry.hasPrefix(removalPrefix) {
                interrupted.append(entry)
            }
        }
        return (containers, interrupted)
    }

    /// Runs blocking file-system work on a dispatch queue, away from the cooperative pool.
    private static func offActor<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: work()) }
        }
    }
}
