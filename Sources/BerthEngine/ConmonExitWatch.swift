import Foundation
import Glibc

/// Learns how a podman container ended from the file that its conmon
/// writes, without starting a podman command.
///
/// Conmon, podman's monitor of one container, writes the container's exit
/// code to a file named after the container in its exit directory
/// (`--exit-dir`). Then it runs podman's cleanup command and exits after it.
/// With podman 4.3 and conmon 2.1 the file was already gone when conmon
/// exited, so the cleanup command deletes it. A `podman wait` is a process of
/// its own that takes tens of milliseconds to start and then polls the
/// container's state. Here inotify reports the exit file the moment conmon
/// writes it, and the file is read before the cleanup command, which has to
/// start first, deletes it. A pidfd of conmon ends the watch when conmon exits
/// without the file having been seen.
///
/// The watch is an optimisation with a fallback: it reports `.unknown`
/// whenever the exit code is not certain, and the caller then asks the
/// engine, which has recorded the exit by the time conmon is gone. That happens when inotify
/// is not available, and when a podman command that ends the container, such
/// as `stop`, `kill` or `rm`, reads and deletes the exit file first.
public final class ConmonExitWatch: Sendable {
    /// The result of a watch.
    public enum Exit: Sendable, Equatable {
        /// The container exited with this code.
        case exited(Int32)
        /// Conmon is gone, and the exit file was not seen; ask the engine.
        case unknown
        /// The waiting task was cancelled.
        case cancelled
    }

    public let containerID: String
    private let processDescriptor: Int32
    private let exitDirectory: String
    private var exitFile: String { exitDirectory + "/" + containerID }

    private init(containerID: String, processDescriptor: Int32, exitDirectory: String) {
        self.containerID = containerID
        self.processDescriptor = processDescriptor
        self.exitDirectory = exitDirectory
    }

    deinit {
        closeDescriptor(processDescriptor)
    }

    /// Opens a watch on the conmon whose pid is in `pidFile`, the file given to
    /// `podman run --conmon-pidfile`.
    ///
    /// Returns nil when conmon cannot be watched: the pid file is missing,
    /// the kernel or glibc has no pidfd, conmon has already exited, or the
    /// process is not the conmon of `containerID`. The pid is checked after
    /// the pidfd is open, so a pid that a new process took over is never watched.
    public static func open(pidFile: String, containerID: String) -> ConmonExitWatch? {
        guard let pidfdOpen = GNUFunctions.shared.pidfdOpen,
            let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
            let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 1
        else { return nil }

        let descriptor = pidfdOpen(pid, 0)
        guard descriptor >= 0 else { return nil }
        guard let arguments = commandLine(of: pid),
            let exitDirectory = conmonExitDirectory(arguments: arguments, containerID: containerID)
        else {
            closeDescriptor(descriptor)
            return nil
        }
        _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
        return ConmonExitWatch(containerID: containerID, processDescriptor: descriptor, exitDirectory: exitDirectory)
    }

    /// Returns the exit directory from conmon's arguments, or nil when they
    /// are not those of the conmon of `containerID`.
    static func conmonExitDirectory(arguments: [String], containerID: String) -> String? {
        var isThisContainer = false
        var exitDirectory: String?
        var index = arguments.startIndex
        while index < arguments.endIndex {
            let argument = arguments[index]
            let next = index + 1 < arguments.endIndex ? arguments[index + 1] : nil
            switch argument {
            case "-c", "--cid":
                isThisContainer = next == containerID
                index += 1
            case "--exit-dir":
                exitDirectory = next
                index += 1
            default:
                if argument.hasPrefix("--cid=") {
                    isThisContainer = argument.dropFirst("--cid=".count) == containerID
                } else if argument.hasPrefix("--exit-dir=") {
                    exitDirectory = String(argument.dropFirst("--exit-dir=".count))
                }
            }
            index += 1
        }
        guard let exitDirectory, isThisContainer, exitDirectory.hasPrefix("/"),
            arguments.first.map({ $0.hasSuffix("conmon") }) == true
        else { return nil }
        return exitDirectory
    }

    /// Reads the arguments of process `pid` from `/proc/PID/cmdline`.
    private static func commandLine(of pid: pid_t) -> [String]? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"), !data.isEmpty else { return nil }
        return data.split(separator: 0, omittingEmptySubsequences: false).dropLast().map { String(decoding: $0, as: UTF8.self) }
    }

    /// Waits until the container has exited and returns its exit code.
    ///
    /// The exit directory is watched before the file is first read, so a
    /// file written in between is not missed. A short container often exits
    /// before `podman run --detach` returns, and then the first read finds
    /// the file. The waiting happens in `poll` on a thread of its own, off the
    /// cooperative pool.
    public func wait() async -> Exit {
        let directoryWatch = DirectoryWatch(exitDirectory)
        if let code = readExitCode() {
            return .exited(code)
        }
        guard let cancellation = try? CancellationPipe() else { return .unknown }

        let outcome = CompletionLatch<Exit>()
        let thread = Thread { [self] in
            outcome.complete(with: waitForExitFile(directoryWatch, cancellation: cancellation.readEnd))
        }
        thread.name = "berth-conmon-\(containerID.prefix(12))"
        thread.start()

        let exit = await withTaskCancellationHandler {
            await outcome.wait()
        } onCancel: {
            cancellation.signal()
        }
        return exit ?? .cancelled
    }

    /// Blocks until the exit file is written, conmon exits, or a byte arrives on `cancellation`.
    private func waitForExitFile(_ directoryWatch: DirectoryWatch?, cancellation: Int32) -> Exit {
        var descriptors = [
            pollfd(fd: cancellation, events: Int16(POLLIN), revents: 0),
            pollfd(fd: processDescriptor, events: Int16(POLLIN), revents: 0),
            pollfd(fd: directoryWatch?.descriptor ?? -1, events: Int16(POLLIN), revents: 0),
        ]
        while true {
            if poll(&descriptors, nfds_t(descriptors.count), -1) < 0 {
                if errno == EINTR { continue }
                return .unknown
            }
            if descriptors[0].revents != 0 {
                return .cancelled
            }
            if descriptors[2].revents != 0, let directoryWatch, directoryWatch.readNames().contains(containerID),
                let code = readExitCode()
            {
                return .exited(code)
            }
            if descriptors[1].revents != 0 {
                return readExitCode().map { .exited($0) } ?? .unknown
            }
        }
    }

    /// Reads the code in conmon's exit file; nil while the file is missing,
    /// empty or being written.
    private func readExitCode() -> Int32? {
        guard let data = FileManager.default.contents(atPath: exitFile), data.count <= 16 else { return nil }
        return Int32(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }
}

/// A pipe that wakes a thread blocked in `poll`. Both ends close when the
/// last holder, the thread or the waiting task, lets go of it, so the thread
/// never polls a closed descriptor.
private final class CancellationPipe: Sendable {
    let readEnd: Int32
    private let writeEnd: Int32

    init() throws {
        (readEnd, writeEnd) = try makeCloseOnExecPipe()
    }

    deinit {
        closeDescriptor(readEnd)
        closeDescriptor(writeEnd)
    }

    func signal() {
        var byte: UInt8 = 1
        _ = Glibc.write(writeEnd, &byte, 1)
    }
}

/// An inotify watch for files written or moved into one directory.
private final class DirectoryWatch: Sendable {
    let descriptor: Int32

    /// Returns nil when inotify is not available or the directory cannot be watched.
    init?(_ directory: String) {
        descriptor = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
        guard descriptor >= 0 else { return nil }
        guard inotify_add_watch(descriptor, directory, UInt32(IN_CLOSE_WRITE | IN_MOVED_TO)) >= 0 else {
            closeDescriptor(descriptor)
            return nil
        }
    }

    deinit {
        closeDescriptor(descriptor)
    }

    /// Reads the pending events without blocking and returns the names of their files.
    func readNames() -> [String] {
        var names: [String] = []
        let bufferSize = 4096
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: bufferSize, alignment: MemoryLayout<inotify_event>.alignment)
        defer { buffer.deallocate() }
        while true {
            let count = read(descriptor, buffer, bufferSize)
            guard count > 0 else { return names }
            var offset = 0
            let headerSize = MemoryLayout<inotify_event>.size
            while offset + headerSize <= count {
                let event = buffer.load(fromByteOffset: offset, as: inotify_event.self)
                let nameLength = Int(event.len)
                if nameLength > 0, offset + headerSize + nameLength <= count {
                    let name = buffer.advanced(by: offset + headerSize).assumingMemoryBound(to: CChar.self)
                    names.append(String(cString: name))
                }
                offset += headerSize + nameLength
            }
        }
    }
}
