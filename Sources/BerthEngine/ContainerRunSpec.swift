import BerthCore

/// Everything berth sets when it creates a job's container.
///
/// The engine always adds `--cap-drop=ALL`, `--security-opt=no-new-privileges`
/// and `--init`, and sets memory-swap equal to memory so that the container
/// gets no swap. The image and the command are placed after all flags and a
/// `--`, so the engine never reads them as its own flags. Every other value is
/// validated before any command runs.
public struct ContainerRunSpec: Hashable, Sendable {
    /// The mount point of the workspace inside the container, also its working directory.
    public static let workspaceMountPoint = "/workspace"

    public var name: String
    public var image: String
    /// The container's argv after the image, or empty to run the image's own command.
    public var command: [String]
    public var labels: [String: String]
    /// Variables passed as `--env NAME=value`, visible in the engine's argv.
    /// Secrets go to `ContainerEngine.create(_:secrets:)` instead.
    public var environment: [String: String]
    /// A user name or uid, optionally with `:group`, or nil to keep the image's user.
    public var user: String?
    public var network: String
    public var readOnlyRootFilesystem: Bool
    /// The size of the tmpfs mounted at /tmp, or nil for no tmpfs.
    public var tmpfsSize: ByteSize?
    /// The memory limit, also used as the memory-plus-swap limit, or nil for no limit.
    public var memory: ByteSize?
    /// CPUs as a fraction, such as 0.5, or nil for no limit.
    public var cpus: Double?
    /// The maximum number of processes and threads in the container, or nil to keep the engine's default.
    public var pidsLimit: Int?
    /// Resource limits set with `--ulimit`.
    ///
    /// Podman 4.3 replaces all of its configured `default_ulimits` with this
    /// list and, running as root, sets nofile and nproc to 1048576 when the list
    /// omits them. Where the host's hard limit is lower, the container then
    /// fails to start, so such hosts need nproc listed here as well.
    public var ulimits: [ContainerUlimit]
    /// The host directory bind-mounted read-write at /workspace, or nil for none.
    public var workspace: String?
    public var pullPolicy: ImagePullPolicy
    /// Flags from berth's configuration, placed after berth's own flags and before the image.
    ///
    /// They are trusted as they are, because they come from the operator and
    /// never from a job spec. A flag here may override one of berth's own.
    public var extraFlags: [String]
    /// A host path for the container's log in the k8s-file format, or nil for
    /// the engine's own log driver and place. Podman only; set after
    /// `extraFlags`, so that the log is where berth reads it.
    public var logFile: String?
    /// A host path where podman's conmon writes its pid, for a
    /// `ConmonExitWatch`, or nil for none. Podman only.
    public var conmonPIDFile: String?

    public init(
        name: String, image: String, command: [String], labels: [String: String] = [:],
        environment: [String: String] = [:], user: String? = nil, network: String = "none",
        readOnlyRootFilesystem: Bool = true, tmpfsSize: ByteSize? = .mebibytes(64), memory: ByteSize? = nil,
        cpus: Double? = nil, pidsLimit: Int? = nil,
        ulimits: [ContainerUlimit] = [ContainerUlimit(.nofile, soft: 1024, hard: 1024)],
        workspace: String? = nil, pullPolicy: ImagePullPolicy = .missing, extraFlags: [String] = [],
        logFile: String? = nil, conmonPIDFile: String? = nil
    ) {
        self.name = name
        self.image = image
        self.command = command
        self.labels = labels
        self.environment = environment
        self.user = user
        self.network = network
        self.readOnlyRootFilesystem = readOnlyRootFilesystem
        self.tmpfsSize = tmpfsSize
        self.memory = memory
        self.cpus = cpus
        self.pidsLimit = pidsLimit
        self.ulimits = ulimits
        self.workspace = workspace
        self.pullPolicy = pullPolicy
        self.extraFlags = extraFlags
        self.logFile = logFile
        self.conmonPIDFile = conmonPIDFile
    }
}

/// One `--ulimit` setting.
public struct ContainerUlimit: Hashable, Sendable {
    /// The resources of setrlimit(2) that berth sets, by their `--ulimit` names.
    public enum Resource: String, Hashable, Sendable, CaseIterable {
        case nofile, nproc, core, memlock, stack, fsize, cpu
    }

    public var resource: Resource
    public var soft: Int64
    public var hard: Int64

    public init(_ resource: Resource, soft: Int64, hard: Int64) {
        self.resource = resource
        self.soft = soft
        self.hard = hard
    }

    /// The value of `--ulimit`, such as `nofile=1024:1024`.
    var argument: String { "\(resource.rawValue)=\(soft):\(hard)" }
}

/// When the engine fetches the image from its registry.
public enum ImagePullPolicy: String, Hashable, Sendable {
    /// Use only an image that is already present.
    case never
    /// Pull when the image is not present.
    case missing
    /// Pull on every create.
    case always
}
