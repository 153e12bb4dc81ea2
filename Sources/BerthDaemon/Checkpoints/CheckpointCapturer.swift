import BerthCore
import BerthStore
import Foundation

/// Limits on what capture copies out of a workspace.
public struct CaptureLimits: Sendable, Equatable {
    /// Largest single checkpoint file, in bytes.
    public var maxFileBytes: Int64
    /// Largest total of all stored checkpoints of one job, in bytes.
    public var maxJobBytes: Int64

    /// Directory entries looked at per scan; a directory with more is read only in part.
    static let maxEntriesPerScan = 10_000
    /// Refusals recorded per job; later ones are only logged, so a job that
    /// creates files by the thousand cannot fill the database.
    static let maxRefusalsPerJob = 200

    public init(maxFileBytes: Int64, maxJobBytes: Int64) {
        self.maxFileBytes = maxFileBytes
        self.maxJobBytes = maxJobBytes
    }
}

/// What an adapter decides about a file name in its checkpoint directory.
enum CheckpointNameDecision: Equatable {
    case capture
    /// Not a checkpoint, such as a temporary file being written; skipped without a record.
    case ignore
    case refuse(String)
}

/// The adapter's reading of a checkpoint file's content.
struct CheckpointInspection: Sendable, Equatable {
    /// The problem with content that a resume may not start from, such as JSON
    /// cut short. It is nil when the content is valid.
    var invalidReason: String?
    /// Fields the adapter read from the content, as a JSON object.
    var metadata: String?

    /// Whether a resume may start from the content.
    var valid: Bool { invalidReason == nil }

    static func valid(metadata: String? = nil) -> CheckpointInspection {
        CheckpointInspection(invalidReason: nil, metadata: metadata)
    }

    static func invalid(_ reason: String) -> CheckpointInspection {
        CheckpointInspection(invalidReason: reason, metadata: nil)
    }

    /// Returns the inspection of content that no JSON reader accepts, naming
    /// the place where the syntax breaks when the check finds it.
    static func invalidJSON(_ content: [UInt8]) -> CheckpointInspection {
        .invalid(JSON5SyntaxLocator.locatedProblem(in: content, syntax: .json).map { "is not valid JSON \($0)" } ?? "is not valid JSON")
    }
}

/// The adapter's rules for the files of its checkpoint directory.
protocol CheckpointFilePolicy: Sendable {
    func decide(name: String) -> CheckpointNameDecision
    func inspect(_ content: [UInt8], name: String) -> CheckpointInspection
}

/// What one scan captured.
struct CaptureResult {
    var checkpoints: [NewCheckpoint] = []
    /// Files this scan added to the store, to delete when the rows cannot be committed.
    var createdFiles: [String] = []

    var isEmpty: Bool { checkpoints.isEmpty }
}

/// Copies the files of a job's checkpoint directory into the daemon's
/// checkpoint store, treating the workspace as hostile.
///
/// Each directory on the way is opened with O_NOFOLLOW relative to the one
/// before, so no symbolic link anywhere on the path is followed. Only regular
/// files are read, checked with fstat on the open descriptor, and FIFOs never
/// block because they are opened with O_NONBLOCK, if at all. A file that
/// changes while it is copied is refused and looked at again at the next scan.
/// Not thread-safe; the attempt's checkpoint session serializes scans.
struct CheckpointCapturer: Sendable {
    let workspace: String
    /// The checkpoint directory relative to the workspace, one component each.
    let directory: [String]
    /// The job's directory in the checkpoint store.
    let storeDirectory: String
    let limits: CaptureLimits
    let policy: any CheckpointFilePolicy
    let logger: Logger

    /// Called after the first chunk of each file is read; tests use it to
    /// change the file during the copy.
    var afterFirstChunk: (@Sendable (String) -> Void)? = nil

    /// Files already captured or refused, by name, with the stat that was seen;
    /// an unchanged file is not read again.
    private var handled: [String: FileIdentity] = [:]
    /// Name and digest of every stored checkpoint of the job.
    private var storedDigests: Set<String>
    /// Bytes of all stored checkpoints of the job.
    private(set) var storedBytes: Int64
    private var refusals: Int
    private var refusalLimitLogged = false

    /// Makes a capturer for a job whose checkpoint rows are `existing`.
    ///
    /// `baseline` contains the files present when the attempt started, which are
    /// not captured again unless they change. With a baseline, a file the job
    /// writes again with the content of a superseded checkpoint is captured,
    /// which clears the mark. Without one (a container adopted after a restart,
    /// or the scan before an attempt), every stored content counts as known,
    /// so stale files that an operator chose to skip stay superseded.
    init(
        workspace: String, directory: [String], storeDirectory: String, limits: CaptureLimits,
        policy: any CheckpointFilePolicy, logger: Logger, existing: [CheckpointRecord],
        baseline: [String: FileIdentity]? = nil
    ) {
        self.workspace = workspace
        self.directory = directory
        self.storeDirectory = storeDirectory
        self.limits = limits
        self.policy = policy
        self.logger = logger
        var digests = Set<String>()
        var counted = Set<String>()
        var bytes: Int64 = 0
        for record in existing {
            guard let sha256 = record.sha256, record.storedPath != nil else { continue }
            let key = Self.digestKey(record.name, sha256)
            if counted.insert(key).inserted {
                bytes += record.size ?? 0
            }
            if baseline == nil || !record.superseded {
                digests.insert(key)
            }
        }
        handled = baseline ?? [:]
        storedDigests = digests
        storedBytes = bytes
        refusals = existing.filter { $0.refusedReason != nil }.count
    }

    /// The checkpoint directory relative to the workspace, for messages.
    var directoryPath: String { directory.joined(separator: "/") }

    /// Scans the checkpoint directory once and copies every new or changed file.
    mutating func scan() -> CaptureResult {
        var result = CaptureResult()
        guard let directoryDescriptor = openCheckpointDirectory(&result) else { return result }
        defer { close(directoryDescriptor) }
        guard let directoryStatus = FileDescriptors.status(of: directoryDescriptor) else { return result }

        guard let listing = FileDescriptors.entries(of: directoryDescriptor, limit: CaptureLimits.maxEntriesPerScan) else {
            logger.warning("cannot list the checkpoint directory", [(.reason, "\(directoryPath): \(FileDescriptors.errorText)")])
            return result
        }
        if listing.truncated {
            logger.warning("the checkpoint directory has too many entries; only part of it is read", [
                (.reason, "\(directoryPath) has more than \(CaptureLimits.maxEntriesPerScan) entries"),
            ])
        }

        var candidates: [(name: String, identity: FileIdentity)] = []
        for rawName in listing.names {
            if let problem = CheckpointName.problem(with: rawName) {
                let display = CheckpointName.display(rawName)
                refuse(display, problem, identity: nil, into: &result)
                continue
            }
            let name = String(decoding: rawName, as: UTF8.self)
            switch policy.decide(name: name) {
            case .ignore:
                continue
            case .refuse(let reason):
                refuse(name, reason, identity: nil, into: &result)
                continue
            case .capture:
                break
            }
            guard let status = FileDescriptors.status(at: directoryDescriptor, name) else { continue }
            let identity = FileIdentity(status)
            if handled[name] == identity { continue }
            if let reason = refusal(for: status, directoryDevice: directoryStatus.st_dev) {
                refuse(name, reason, identity: identity, into: &result)
                continue
            }
            candidates.append((name, identity))
        }

        // Oldest first, so that row ids follow the order in which the job wrote the files.
        candidates.sort { ($0.identity.modified, $0.name) < ($1.identity.modified, $1.name) }
        for candidate in candidates {
            copy(candidate.name, from: directoryDescriptor, directoryDevice: directoryStatus.st_dev, into: &result)
        }
        return result
    }

    /// Returns the stat identity of every entry of the checkpoint directory,
    /// recording nothing, for the baseline of an attempt.
    mutating func currentFiles() -> [String: FileIdentity] {
        var ignored = CaptureResult()
        guard let directoryDescriptor = openCheckpointDirectory(&ignored, recordRefusals: false) else { return [:] }
        defer { close(directoryDescriptor) }
        guard let listing = FileDescriptors.entries(of: directoryDescriptor, limit: CaptureLimits.maxEntriesPerScan) else {
            return [:]
        }
        var files: [String: FileIdentity] = [:]
        for rawName in listing.names where CheckpointName.problem(with: rawName) == nil {
            let name = String(decoding: rawName, as: UTF8.self)
            if let status = FileDescriptors.status(at: directoryDescriptor, name) {
                files[name] = FileIdentity(status)
            }
        }
        return files
    }

    /// Opens the checkpoint directory one component at a time. Returns nil
    /// when it does not exist yet or cannot be used, and records a refusal
    /// for a component that is a symbolic link or not a directory.
    private mutating func openCheckpointDirectory(_ result: inout CaptureResult, recordRefusals: Bool = true) -> Int32? {
        var descriptor = open(workspace, FileDescriptors.directoryFlags)
        guard descriptor >= 0 else {
            if errno != ENOENT {
                logger.warning("cannot open the workspace", [(.reason, "\(workspace): \(FileDescriptors.errorText)")])
            }
            return nil
        }
        for (index, component) in directory.enumerated() {
            let next = openat(descriptor, component, FileDescriptors.directoryFlags)
            let openError = errno
            guard next >= 0 else {
                let path = directory[...index].joined(separator: "/")
                switch openError {
                case ENOENT:
                    break
                case ELOOP, ENOTDIR:
                    guard recordRefusals else { break }
                    // Which of the two it is decides only the wording.
                    let kind = FileDescriptors.status(at: descriptor, component).map { FileDescriptors.kind(of: $0.st_mode) }
                    refuse(path, "the checkpoint directory \(directoryPath) cannot be read because \(path) is \(kind ?? "not a directory"); nothing in it was read",
                           identity: nil, into: &result)
                default:
                    logger.warning("cannot open the checkpoint directory", [(.reason, "\(path): \(String(cString: strerror(openError)))")])
                }
                close(descriptor)
                return nil
            }
            close(descriptor)
            descriptor = next
        }
        return descriptor
    }

    /// Returns the reason a directory entry with `status` is not captured, or nil when it may be read.
    private func refusal(for status: Glibc.stat, directoryDevice: dev_t) -> String? {
        guard status.st_mode & S_IFMT == S_IFREG else {
            let kind = FileDescriptors.kind(of: status.st_mode)
            if status.st_mode & S_IFMT == S_IFLNK {
                return "is a symbolic link, which capture never follows"
            }
            return "is \(kind), not a regular file"
        }
        guard status.st_dev == directoryDevice else {
            return "lies on another file system than the workspace"
        }
        let size = Int64(status.st_size)
        if size > limits.maxFileBytes {
            return "is \(size) bytes, more than the limit of \(limits.maxFileBytes) bytes per checkpoint (checkpoints.maxFileBytes)"
        }
        if storedBytes + size > limits.maxJobBytes {
            return "would bring the job's stored checkpoints to \(storedBytes + size) bytes, more than the limit of \(limits.maxJobBytes) bytes (checkpoints.maxJobBytes)"
        }
        return nil
    }

    private mutating func refuse(_ name: String, _ reason: String, identity: FileIdentity?, into result: inout CaptureResult) {
        if let identity { handled[name] = identity }
        guard refusals < CaptureLimits.maxRefusalsPerJob else {
            if !refusalLimitLogged {
                refusalLimitLogged = true
                logger.warning("the job has too many refused checkpoint files; later refusals are not recorded", [
                    (.reason, "limit \(CaptureLimits.maxRefusalsPerJob)"),
                ])
            }
            return
        }
        // The same refusal of an unchanged entry is recorded once; the store skips repeats too.
        let key = "refused\u{0}" + name + "\u{0}" + reason
        guard !storedDigests.contains(key) else { return }
        storedDigests.insert(key)
        refusals += 1
        logger.info("refused a checkpoint file", [(.reason, "\(directoryPath)/\(name) \(reason)")])
        result.checkpoints.append(.refused(name: name, reason: reason, size: identity.map { $0.size }))
    }

    /// Copies one file into the store, verifying that it stayed the same file
    /// with the same content while it was read.
    private mutating func copy(_ name: String, from directoryDescriptor: Int32, directoryDevice: dev_t, into result: inout CaptureResult) {
        let source = openat(directoryDescriptor, name, FileDescriptors.fileFlags)
        guard source >= 0 else {
            switch errno {
            case ENOENT:
                // Removed since the listing; nothing to capture.
                break
            case ELOOP, ENXIO:
                // Replaced by a symbolic link or a socket since the listing.
                refuse(name, "was replaced by a file that is not a regular file while it was captured", identity: nil, into: &result)
            default:
                logger.warning("cannot open a checkpoint file", [(.reason, "\(directoryPath)/\(name): \(FileDescriptors.errorText)")])
            }
            return
        }
        defer { close(source) }

        guard let before = FileDescriptors.status(of: source) else { return }
        let identity = FileIdentity(before)
        if let reason = refusal(for: before, directoryDevice: directoryDevice) {
            refuse(name, reason, identity: identity, into: &result)
            return
        }

        switch copyContent(of: source, name: name, expectedSize: identity.size) {
        case .refused(let reason):
            // Not marked as handled: the next scan looks at the file again.
            refuse(name, reason, identity: nil, into: &result)
        case .failed(let problem):
            // Recorded, so `berth checkpoints` shows why the file is missing. It is
            // not marked as handled, so the next scan copies it once there is room.
            refuse(name, "could not be stored in the daemon's checkpoint store (\(problem)); it is captured again at the next scan",
                   identity: nil, into: &result)
        case .copied(let copied):
            // The descriptor's file must still be the one under the name, unchanged.
            let after = FileDescriptors.status(of: source).map(FileIdentity.init)
            let current = FileDescriptors.status(at: directoryDescriptor, name).map(FileIdentity.init)
            guard after == identity, current == identity else {
                unlink(copied.temporaryPath)
                refuse(name, "changed while it was copied; it is captured again once it stays the same", identity: nil, into: &result)
                return
            }
            store(copied, name: name, identity: identity, into: &result)
        }
    }

    private struct CopiedFile {
        let temporaryPath: String
        let sha256: String
        let content: [UInt8]
    }

    private enum CopyResult {
        case copied(CopiedFile)
        case refused(String)
        /// A write to the store failed for the reason given, such as a full
        /// disk. The failure is logged and recorded, and the next scan tries again.
        case failed(String)
    }

    /// Reads the open file to its end into a temporary file of the store,
    /// hashing it on the way.
    private func copyContent(of source: Int32, name: String, expectedSize: Int64) -> CopyResult {
        do {
            try FileManager.default.createDirectory(
                atPath: storeDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            logger.error("cannot create the job's checkpoint store", [(.reason, "\(storeDirectory): \(error)")])
            return .failed("cannot create its directory: \(error.localizedDescription)")
        }
        let temporaryPath = storeDirectory + "/.capture-\(FileDescriptors.randomSuffix()).tmp"
        let target = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard target >= 0 else {
            let problem = FileDescriptors.errorText
            logger.error("cannot create a file in the checkpoint store", [(.reason, "\(temporaryPath): \(problem)")])
            return .failed("cannot create a file: \(problem)")
        }
        var keep = false
        defer {
            close(target)
            if !keep { unlink(temporaryPath) }
        }

        var hasher = SHA256()
        var content: [UInt8] = []
        content.reserveCapacity(Int(min(expectedSize, 64 << 20)))
        let chunkSize = 1 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 16)
        defer { buffer.deallocate() }
        var total: Int64 = 0
        while true {
            let count = FileDescriptors.read(source, into: buffer)
            if count < 0 {
                return .refused("could not be read: \(FileDescriptors.errorText)")
            }
            if count == 0 { break }
            total += Int64(count)
            guard total <= expectedSize, total <= limits.maxFileBytes else {
                return .refused("grew while it was copied; it is captured again once it stays the same")
            }
            let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
            hasher.update(chunk)
            content.append(contentsOf: chunk)
            guard FileDescriptors.writeAll(target, chunk) else {
                let problem = FileDescriptors.errorText
                logger.error("cannot write to the checkpoint store", [(.reason, "\(temporaryPath): \(problem)")])
                return .failed("cannot write: \(problem)")
            }
            if total == Int64(count), let afterFirstChunk { afterFirstChunk(name) }
        }
        guard total == expectedSize else {
            return .refused("shrank while it was copied; it is captured again once it stays the same")
        }
        guard fsync(target) == 0 else {
            let problem = FileDescriptors.errorText
            logger.error("cannot write to the checkpoint store", [(.reason, "fsync \(temporaryPath): \(problem)")])
            return .failed("cannot write: \(problem)")
        }
        keep = true
        return .copied(CopiedFile(temporaryPath: temporaryPath, sha256: hasher.finalizeHex(), content: content))
    }

    /// Renames a verified copy to its content address in the store and adds its row.
    private mutating func store(_ copied: CopiedFile, name: String, identity: FileIdentity, into result: inout CaptureResult) {
        let storedPath = storeDirectory + "/" + copied.sha256
        let key = Self.digestKey(name, copied.sha256)
        handled[name] = identity
        if storedDigests.contains(key) {
            // The job wrote content it had written before under this name.
            unlink(copied.temporaryPath)
            return
        }

        let existed = access(storedPath, F_OK) == 0
        guard rename(copied.temporaryPath, storedPath) == 0 else {
            logger.error("cannot move a checkpoint into the store", [(.reason, "\(storedPath): \(FileDescriptors.errorText)")])
            unlink(copied.temporaryPath)
            handled[name] = nil
            return
        }
        FileDescriptors.syncDirectory(storeDirectory)
        if !existed { result.createdFiles.append(storedPath) }

        storedDigests.insert(key)
        storedBytes += identity.size
        let inspection = policy.inspect(copied.content, name: name)
        if let problem = inspection.invalidReason {
            logger.info("captured a checkpoint whose content is not valid; it is never resumed from",
                        [(.reason, "\(directoryPath)/\(name) \(problem)")])
        }
        result.checkpoints.append(.stored(
            name: name, sha256: copied.sha256, size: identity.size, storedPath: storedPath, invalidReason: inspection.invalidReason,
            metadata: inspection.metadata))
    }

    /// Forgets the rows of a scan whose transaction failed, so that the next scan captures them again.
    mutating func forget(_ result: CaptureResult) {
        for checkpoint in result.checkpoints {
            handled[checkpoint.name] = nil
            if let sha256 = checkpoint.sha256 {
                if storedDigests.remove(Self.digestKey(checkpoint.name, sha256)) != nil {
                    storedBytes -= checkpoint.size ?? 0
                }
            } else if let reason = checkpoint.refusedReason {
                storedDigests.remove("refused\u{0}" + checkpoint.name + "\u{0}" + reason)
                refusals -= 1
            }
        }
    }

    private static func digestKey(_ name: String, _ sha256: String) -> String {
        name + "\u{0}" + sha256
    }
}

/// The stat(2) fields that tell whether a file is the same file, unchanged.
struct FileIdentity: Equatable, Sendable {
    let device: UInt64
    let inode: UInt64
    let size: Int64
    let modified: Int64
    let changed: Int64

    init(_ status: Glibc.stat) {
        device = UInt64(status.st_dev)
        inode = UInt64(status.st_ino)
        size = Int64(status.st_size)
        modified = Int64(status.st_mtim.tv_sec) * 1_000_000_000 + Int64(status.st_mtim.tv_nsec)
        changed = Int64(status.st_ctim.tv_sec) * 1_000_000_000 + Int64(status.st_ctim.tv_nsec)
    }
}
