import Foundation

/// Sends service state to systemd over the `NOTIFY_SOCKET` datagram protocol
/// described in sd_notify(3): `READY=1`, `STATUS=…`, `WATCHDOG=1`,
/// `STOPPING=1` and `EXTEND_TIMEOUT_USEC=…`. Does nothing when the daemon
/// does not run under systemd.
///
/// Only the process that created the notifier sends: systemd accepts messages
/// from the main process alone (`NotifyAccess=main`), and engine commands get
/// a clean environment without `NOTIFY_SOCKET`.
public struct ServiceNotifier: Sendable {
    private let socketPath: String?
    private let mainProcess = getpid()
    /// The watchdog interval systemd expects pings within, when it set one for this process.
    public let watchdogInterval: Duration?

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        let path = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
        socketPath = path
        // WATCHDOG_PID names the process systemd watches; another process must not ping.
        if let usec = environment["WATCHDOG_USEC"].flatMap(Int64.init), usec > 0,
           environment["WATCHDOG_PID"].flatMap(Int32.init).map({ $0 == getpid() }) ?? true {
            watchdogInterval = .microseconds(usec)
        } else {
            watchdogInterval = nil
        }
    }

    public var isActive: Bool { socketPath != nil }

    public func ready(status: String) { send("READY=1\nSTATUS=\(status)") }
    public func status(_ text: String) { send("STATUS=\(text)") }
    /// Pings the watchdog; sends nothing when systemd set no watchdog for this process.
    public func watchdog() {
        guard watchdogInterval != nil else { return }
        send("WATCHDOG=1")
    }

    public func stopping(status: String) { send("STOPPING=1\nSTATUS=\(status)") }
    public func extendTimeout(by duration: Duration) {
        let components = duration.components
        let microseconds = components.seconds * 1_000_000 + components.attoseconds / 1_000_000_000_000
        send("EXTEND_TIMEOUT_USEC=\(microseconds)")
    }

    /// Sends one message. An address starting with `@` is in the abstract namespace.
    public func send(_ message: String) {
        guard let socketPath, getpid() == mainProcess else { return }
        let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { return }
        defer { close(descriptor) }

        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var pathBytes = Array(socketPath.utf8)
        if pathBytes.first == UInt8(ascii: "@") { pathBytes[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard pathBytes.count < capacity else { return }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: pathBytes) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + pathBytes.count + (pathBytes.first == 0 ? 0 : 1))

        let bytes = Array(message.utf8)
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(descriptor, bytes, bytes.count, Int32(MSG_NOSIGNAL), $0, length)
            }
        }
    }
}
