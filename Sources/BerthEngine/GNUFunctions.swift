import Glibc

/// glibc functions that Swift's Glibc module leaves out because glibc declares
/// them only under `_GNU_SOURCE`, looked up once in the running process.
///
/// They are in glibc since 2.9 (`pipe2`), 2.29 (`posix_spawn_file_actions_addchdir_np`),
/// 2.34 (`posix_spawn_file_actions_addclosefrom_np`) and 2.36 (`pidfd_open`).
/// Debian 12 ships 2.36.
struct GNUFunctions: @unchecked Sendable {
    // @unchecked: the members are immutable C function pointers.
    typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32
    typealias AddChangeDirectory = @convention(c) (
        UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>
    ) -> Int32
    typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    typealias PIDFDOpen = @convention(c) (pid_t, UInt32) -> Int32

    let pipe2: Pipe2?
    let addChangeDirectory: AddChangeDirectory?
    let addCloseFrom: AddCloseFrom?
    let pidfdOpen: PIDFDOpen?

    static let shared = GNUFunctions()

    private init() {
        // dlopen(nil) returns the handle of the main program, whose lookups include libc.
        let handle = dlopen(nil, RTLD_NOW)
        func lookUp<Function>(_ name: String, as type: Function.Type) -> Function? {
            guard let handle, let symbol = dlsym(handle, name) else { return nil }
            return unsafeBitCast(symbol, to: type)
        }
        pipe2 = lookUp("pipe2", as: Pipe2.self)
        addChangeDirectory = lookUp("posix_spawn_file_actions_addchdir_np", as: AddChangeDirectory.self)
        addCloseFrom = lookUp("posix_spawn_file_actions_addclosefrom_np", as: AddCloseFrom.self)
        pidfdOpen = lookUp("pidfd_open", as: PIDFDOpen.self)
    }
}

/// Creates a pipe whose two ends are close-on-exec from the start.
func makeCloseOnExecPipe() throws(ChildProcessError) -> (read: Int32, write: Int32) {
    guard let pipe2 = GNUFunctions.shared.pipe2 else {
        throw .unsupported(feature: "pipe2 (glibc 2.9 or later)")
    }
    var descriptors: [Int32] = [-1, -1]
    let result = descriptors.withUnsafeMutableBufferPointer { pipe2($0.baseAddress!, O_CLOEXEC) }
    guard result == 0 else {
        throw .systemCallFailed(name: "pipe2", errno: errno)
    }
    return (descriptors[0], descriptors[1])
}

/// Closes `descriptor`, ignoring EINTR because Linux always releases the descriptor.
func closeDescriptor(_ descriptor: Int32) {
    _ = Glibc.close(descriptor)
}

/// Returns the standard name of a signal, such as `SIGTERM`, or nil for an unusual number.
func signalName(_ signal: Int32) -> String? {
    switch signal {
    case SIGHUP: "SIGHUP"
    case SIGINT: "SIGINT"
    case SIGQUIT: "SIGQUIT"
    case SIGILL: "SIGILL"
    case SIGABRT: "SIGABRT"
    case SIGBUS: "SIGBUS"
    case SIGFPE: "SIGFPE"
    case SIGKILL: "SIGKILL"
    case SIGSEGV: "SIGSEGV"
    case SIGPIPE: "SIGPIPE"
    case SIGALRM: "SIGALRM"
    case SIGTERM: "SIGTERM"
    case SIGUSR1: "SIGUSR1"
    case SIGUSR2: "SIGUSR2"
    default: nil
    }
}
