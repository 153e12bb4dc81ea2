import Foundation
import Synchronization

/// Sends log records to systemd-journald through its native protocol, so each
/// record keeps its priority and its ids as fields that `journalctl` filters
/// on (`journalctl -u berth JOB_ID=42`).
///
/// The protocol, from systemd's "Native Journal Protocol" document: one
/// datagram per record on the `AF_UNIX`/`SOCK_DGRAM` socket
/// `/run/systemd/journal/socket`, holding `NAME=value` lines. A value that
/// contains a newline is sent as the name, a newline, its length as a 64-bit
/// little-endian integer, the value and a newline.
///
/// A datagram may fail to send because journald is restarting, its queue is
/// full or the record is too large for one datagram. The record then goes to
/// standard error as a line with a `<N>` syslog priority prefix, which
/// journald's stream reader turns back into the priority.
public final class JournalSink: LogSink {
    public static let defaultSocketPath = "/run/systemd/journal/socket"
    /// The `SYSLOG_IDENTIFIER` of every record.
    public static let identifier = "berth"

    public let socketPath: String
    private let descriptor: Int32
    private let address: sockaddr_un?
    private let fallbackLock = Mutex(())

    /// Opens an unconnected datagram socket for `socketPath`; sending happens per record.
    public init(socketPath: String = defaultSocketPath) {
        self.socketPath = socketPath
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        address = Self.makeAddress(socketPath)
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
    }

    public func write(level: DaemonConfiguration.LogLevel, message: String, fields: [(LogField, String)]) {
        let datagram = Self.encode(level: level, message: message, fields: fields)
        if send(datagram) { return }
        writeFallbackLine(level: level, message: message, fields: fields)
    }

    /// Returns the syslog priority of `level`, as journald and syslog(3) number them.
    public static func priority(of level: DaemonConfiguration.LogLevel) -> Int {
        switch level {
        case .debug: 7
        case .info: 6
        case .warning: 4
        case .error: 3
        }
    }

    /// Encodes one record in the native protocol's format.
    static func encode(level: DaemonConfiguration.LogLevel, message: String, fields: [(LogField, String)]) -> [UInt8] {
        var datagram: [UInt8] = []
        append("PRIORITY", "\(priority(of: level))", to: &datagram)
        append("SYSLOG_IDENTIFIER", identifier, to: &datagram)
        append("MESSAGE", message, to: &datagram)
        for (field, value) in fields {
            append(field.rawValue, value, to: &datagram)
        }
        return datagram
    }

    private static func append(_ name: String, _ value: String, to datagram: inout [UInt8]) {
        datagram += Array(name.utf8)
        let bytes = Array(value.utf8)
        if bytes.contains(UInt8(ascii: "\n")) {
            datagram.append(UInt8(ascii: "\n"))
            withUnsafeBytes(of: UInt64(bytes.count).littleEndian) { datagram += Array($0) }
            datagram += bytes
        } else {
            datagram.append(UInt8(ascii: "="))
            datagram += bytes
        }
        datagram.append(UInt8(ascii: "\n"))
    }

    /// Sends one datagram without waiting, so a stalled journald never stalls the daemon.
    private func send(_ datagram: [UInt8]) -> Bool {
        guard descriptor >= 0, var address else { return false }
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                datagram.withUnsafeBytes { buffer in
                    sendto(descriptor, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT),
                           socketAddress, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
        }
        // NOTE: a record larger than one datagram (EMSGSIZE) is not passed as
        // a memfd, as the protocol allows; it goes to standard error instead.
        return sent == datagram.count
    }

    private func writeFallbackLine(level: DaemonConfiguration.LogLevel, message: String, fields: [(LogField, String)]) {
        var line = "<\(Self.priority(of: level))>\(message)"
        for (field, value) in fields {
            line += " \(field.rawValue)=\(value.contains(" ") ? "\"\(value)\"" : value)"
        }
        line = line.replacingOccurrences(of: "\n", with: " ") + "\n"
        fallbackLock.withLock { _ in
            FileHandle.standardError.write(Data(line.utf8))
        }
    }

    private static func makeAddress(_ path: String) -> sockaddr_un? {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return nil }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        return address
    }
}

extension JournalSink {
    /// Returns whether standard error is the journal stream systemd connected.
    /// systemd.exec(5) sets `JOURNAL_STREAM` to that stream's device and inode
    /// numbers, as `DEVICE:INODE` in decimal.
    public static func standardErrorIsJournal(environment: [String: String]) -> Bool {
        guard let stream = environment["JOURNAL_STREAM"] else { return false }
        let parts = stream.split(separator: ":")
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
        var info = stat()
        guard fstat(STDERR_FILENO, &info) == 0 else { return false }
        return UInt64(info.st_dev) == device && UInt64(info.st_ino) == inode
    }
}

extension Logger {
    /// The environment variable that points the journal sink at another
    /// socket, so tests can receive the daemon's records on a socket they bound.
    public static let journalSocketOverride = "BERTH_JOURNAL_SOCKET"

    /// Returns the sink for the daemon's records: the journal's native protocol when
    /// standard error is the journal (or `BERTH_JOURNAL_SOCKET` names a
    /// socket), one readable line per record on standard error otherwise.
    public static func defaultSink(environment: [String: String]) -> any LogSink {
        if let override = environment[journalSocketOverride], !override.isEmpty {
            return JournalSink(socketPath: override)
        }
        if JournalSink.standardErrorIsJournal(environment: environment) {
            return JournalSink()
        }
        return StandardErrorSink()
    }
}
