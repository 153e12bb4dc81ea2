import Foundation

/// A Unix datagram socket on which a daemon receives "there is new work"
/// messages from submitters on the same host, so it claims a job at once
/// instead of at its next poll.
///
/// The messages carry no data the daemon trusts: any datagram only triggers a
/// claim attempt that the database decides.
public final class WakeSocket: Sendable {
    public let path: String
    private let descriptor: Int32

    /// Binds a new socket at `path`, replacing a stale socket file left by a previous daemon.
    public init(path: String) throws {
        guard path.utf8.count < MemoryLayout.size(ofValue: sockaddr_un().sun_path) else {
            throw WakeSocketError(path: path, reason: "the path is longer than a Unix socket path may be")
        }
        let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw WakeSocketError(path: path, reason: String(cString: strerror(errno))) }

        unlink(path)
        var address = Self.address(path)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else {
            let reason = String(cString: strerror(errno))
            Glibc.close(descriptor)
            throw WakeSocketError(path: path, reason: reason)
        }
        // Submitters run as other users (members of the admin group); a
        // datagram can do no more than trigger a claim.
        chmod(path, 0o666)
        self.path = path
        self.descriptor = descriptor
    }

    /// Starts a dedicated thread that calls `onWake` for every datagram until `close()`.
    public func startReceiving(onWake: @escaping @Sendable () -> Void) {
        let descriptor = self.descriptor
        let thread = Thread {
            var buffer = [UInt8](repeating: 0, count: 64)
            while true {
                let received = recv(descriptor, &buffer, buffer.count, 0)
                if received < 0 {
                    if errno == EINTR { continue }
                    return
                }
                onWake()
            }
        }
        thread.name = "berth-wake"
        thread.start()
    }

    /// Stops receiving and removes the socket file.
    public func close() {
        shutdown(descriptor, Int32(SHUT_RDWR))
        Glibc.close(descriptor)
        unlink(path)
    }

    /// Sends one wake-up to the socket at `path`; failures are ignored,
    /// because the daemon's poll finds the job anyway.
    public static func wake(path: String) {
        guard path.utf8.count < MemoryLayout.size(ofValue: sockaddr_un().sun_path) else { return }
        let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { return }
        defer { Glibc.close(descriptor) }
        var address = address(path)
        let message: [UInt8] = [1]
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(descriptor, message, message.count, Int32(MSG_DONTWAIT), $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
    }

    private static func address(_ path: String) -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            let bytes = Array(path.utf8)
            buffer.copyBytes(from: bytes.prefix(buffer.count - 1))
        }
        return address
    }
}

public struct WakeSocketError: Error, CustomStringConvertible {
    public let path: String
    public let reason: String

    public var description: String {
        "cannot open the wake-up socket \(path): \(reason); check that the runtime directory exists and is writable"
    }
}
