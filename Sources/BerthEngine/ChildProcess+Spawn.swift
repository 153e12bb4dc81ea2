import Glibc

/// The descriptors and pid of a child that posix_spawn started.
struct SpawnedChild {
    var pid: pid_t
    /// Read ends of the child's stdout and stderr pipes, both close-on-exec.
    var standardOutput: Int32
    var standardError: Int32
}

extension ChildProcess {
    /// Starts the program at `path` with posix_spawn.
    ///
    /// The child gets an empty signal mask and default dispositions for every
    /// signal, whatever this thread blocks or this process ignores, because
    /// both are inherited across exec. It leads a new process group so that the
    /// whole group can be signalled, reads stdin from /dev/null and writes
    /// stdout and stderr to two pipes. Descriptors 3 and above are closed in
    /// the child, so even descriptors that other code opened without
    /// close-on-exec do not leak into it.
    ///
    /// NOTE: glibc (checked in 2.36) leaves its internal signals 32 and 33 ignored
    /// in the child, because `sigfillset` omits them. Applications never use them.
    static func spawn(path: String, command: ProcessCommand) throws(ChildProcessError) -> SpawnedChild {
        let argv = [command.executable] + command.arguments
        for (index, argument) in argv.enumerated() where argument.utf8.contains(0) {
            throw .containsNulByte(field: "argument \(index)")
        }
        var environment: [String] = []
        for (name, value) in command.environment.sorted(by: { $0.key < $1.key }) {
            guard !name.isEmpty, !name.contains("=") else { throw .invalidEnvironmentName(name) }
            guard !name.utf8.contains(0), !value.utf8.contains(0) else {
                throw .containsNulByte(field: "environment variable \(name)")
            }
            environment.append("\(name)=\(value)")
        }
        if let directory = command.workingDirectory, directory.utf8.contains(0) {
            throw .containsNulByte(field: "working directory")
        }

        let output = try makeCloseOnExecPipe()
        let errorOutput: (read: Int32, write: Int32)
        do {
            errorOutput = try makeCloseOnExecPipe()
        } catch {
            closeDescriptor(output.read)
            closeDescriptor(output.write)
            throw error
        }

        let result = withSpawnSettings(command: command, output: output.write, errorOutput: errorOutput.write) {
            actions, attributes throws(ChildProcessError) -> (pid: pid_t, code: Int32) in
            var pid: pid_t = 0
            let code = withCStringArray(argv) { argvPointer in
                withCStringArray(environment) { environmentPointer in
                    posix_spawn(&pid, path, actions, attributes, argvPointer, environmentPointer)
                }
            }
            return (pid, code)
        }

        // The child has its own copies of the write ends, so closing ours lets the readers see EOF.
        closeDescriptor(output.write)
        closeDescriptor(errorOutput.write)
        switch result {
        case .success(let spawned) where spawned.code == 0:
            return SpawnedChild(pid: spawned.pid, standardOutput: output.read, standardError: errorOutput.read)
        case .success(let spawned):
            closeDescriptor(output.read)
            closeDescriptor(errorOutput.read)
            throw .spawnFailed(executable: path, errno: spawned.code)
        case .failure(let error):
            closeDescriptor(output.read)
            closeDescriptor(errorOutput.read)
            throw error
        }
    }

    /// Builds the file actions and attributes for posix_spawn and passes them to `body`.
    private static func withSpawnSettings<Result>(
        command: ProcessCommand, output: Int32, errorOutput: Int32,
        _ body: (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafeMutablePointer<posix_spawnattr_t>)
            throws(ChildProcessError) -> Result
    ) -> Swift.Result<Result, ChildProcessError> {
        var actions = posix_spawn_file_actions_t()
        var attributes = posix_spawnattr_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawnattr_init(&attributes)
        defer {
            posix_spawn_file_actions_destroy(&actions)
            posix_spawnattr_destroy(&attributes)
        }

        do throws(ChildProcessError) {
            if let directory = command.workingDirectory {
                guard let addChangeDirectory = GNUFunctions.shared.addChangeDirectory else {
                    throw .unsupported(feature: "posix_spawn_file_actions_addchdir_np (glibc 2.29 or later)")
                }
                try check(addChangeDirectory(&actions, directory), "posix_spawn_file_actions_addchdir_np")
            }
            try check(posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0), "posix_spawn_file_actions_addopen")
            try check(posix_spawn_file_actions_adddup2(&actions, output, 1), "posix_spawn_file_actions_adddup2")
            try check(posix_spawn_file_actions_adddup2(&actions, errorOutput, 2), "posix_spawn_file_actions_adddup2")
            // Without closefrom the child still gets none of berth's own descriptors,
            // because berth opens every descriptor close-on-exec.
            if let addCloseFrom = GNUFunctions.shared.addCloseFrom {
                try check(addCloseFrom(&actions, 3), "posix_spawn_file_actions_addclosefrom_np")
            }

            var emptySet = sigset_t()
            sigemptyset(&emptySet)
            try check(posix_spawnattr_setsigmask(&attributes, &emptySet), "posix_spawnattr_setsigmask")
            var fullSet = sigset_t()
            sigfillset(&fullSet)
            try check(posix_spawnattr_setsigdefault(&attributes, &fullSet), "posix_spawnattr_setsigdefault")
            try check(posix_spawnattr_setpgroup(&attributes, 0), "posix_spawnattr_setpgroup")
            let flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP
            try check(posix_spawnattr_setflags(&attributes, Int16(flags)), "posix_spawnattr_setflags")

            return .success(try body(&actions, &attributes))
        } catch {
            return .failure(error)
        }
    }

    /// Throws for a nonzero result of a posix_spawn setup function, which returns an errno.
    private static func check(_ code: Int32, _ name: String) throws(ChildProcessError) {
        guard code == 0 else { throw .systemCallFailed(name: name, errno: code) }
    }
}

/// Passes `strings` to `body` as a NULL-terminated array of C strings.
private func withCStringArray<Result>(
    _ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> Result
) -> Result {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer {
        for pointer in pointers {
            free(pointer)
        }
    }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}
