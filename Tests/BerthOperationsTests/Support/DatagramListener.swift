import BerthTestSupport
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A Unix datagram socket the test binds, standing in for systemd's notify
/// socket or journald's native socket.
final class DatagramListener: @unchecked Sendable {
    // @unchecked: the descriptor is only read from, by one test at a time.
    let path: String
    private let descriptor: Int32

    init(path: String) throws {
        self.path = path
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw TestFailure("socket failed: \(String(cString: strerror(errno)))") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw TestFailure("socket path too long: \(path)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else { throw TestFailure("bind \(path) failed: \(String(cString: strerror(errno)))") }
        // A large receive buffer, so a chatty daemon never finds the socket full.
        var size: Int32 = 4 << 20
        setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit {
        // Shutting the socket down ends a recording thread blocked in recv.
        shutdown(descriptor, Int32(SHUT_RDWR))
        close(descriptor)
        unlink(path)
    }

    /// The next datagram, or nil when none arrives within `timeout`.
    func receive(timeout: Duration) -> [UInt8]? {
        var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        let milliseconds = Int32(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        guard poll(&entry, 1, milliseconds) > 0 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        let count = recv(descriptor, &buffer, buffer.count, 0)
        guard count >= 0 else { return nil }
        return Array(buffer[..<count])
    }

    /// Starts a thread that receives every datagram as soon as it arrives,
    /// because a Unix socket queues only `net.unix.max_dgram_qlen` datagrams
    /// (10 by default) and the daemon sends its journal records without waiting.
    func startRecording() -> DatagramRecording {
        let recording = DatagramRecording()
        let descriptor = self.descriptor
        let thread = Thread {
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            while true {
                let count = recv(descriptor, &buffer, buffer.count, 0)
                if count < 0 {
                    if errno == EINTR { continue }
                    return
                }
                recording.append(Array(buffer[..<count]))
            }
        }
        thread.start()
        return recording
    }

    /// Every datagram already queued, without waiting.
    func drain() -> [[UInt8]] {
        var datagrams: [[UInt8]] = []
        while let datagram = receive(timeout: .zero) {
            datagrams.append(datagram)
        }
        return datagrams
    }
}

/// One record of journald's native protocol, decoded into its fields.
struct JournalRecord: CustomStringConvertible {
    let fields: [String: String]
    /// The datagram as sent, to search for text that must never be in it.
    let raw: [UInt8]

    subscript(name: String) -> String? { fields[name] }

    var message: String { fields["MESSAGE"] ?? "" }

    var description: String {
        fields.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    }

    /// Decodes `NAME=value` lines and the length-prefixed form for values with newlines.
    init(_ datagram: [UInt8]) throws {
        raw = datagram
        var fields: [String: String] = [:]
        var index = 0
        while index < datagram.count {
            guard let end = datagram[index...].firstIndex(where: { $0 == UInt8(ascii: "=") || $0 == UInt8(ascii: "\n") }) else {
                throw TestFailure("journal record ends inside a field name")
            }
            let name = String(decoding: datagram[index..<end], as: UTF8.self)
            if datagram[end] == UInt8(ascii: "=") {
                let valueEnd = datagram[(end + 1)...].firstIndex(of: UInt8(ascii: "\n")) ?? datagram.count
                fields[name] = String(decoding: datagram[(end + 1)..<valueEnd], as: UTF8.self)
                index = valueEnd + 1
            } else {
                guard end + 9 <= datagram.count else { throw TestFailure("journal record ends inside a length") }
                var length: UInt64 = 0
                for (shift, byte) in datagram[(end + 1)..<(end + 9)].enumerated() {
                    length |= UInt64(byte) << (8 * UInt64(shift))
                }
                let start = end + 9
                let valueEnd = start + Int(length)
                guard valueEnd < datagram.count, datagram[valueEnd] == UInt8(ascii: "\n") else {
                    throw TestFailure("journal record has a binary field without its closing newline")
                }
                fields[name] = String(decoding: datagram[start..<valueEnd], as: UTF8.self)
                index = valueEnd + 1
            }
        }
        self.fields = fields
    }
}

/// The datagrams a listener's thread received, in arrival order.
final class DatagramRecording: Sendable {
    private let datagrams = Mutex<[[UInt8]]>([])

    func append(_ datagram: [UInt8]) {
        datagrams.withLock { $0.append(datagram) }
    }

    /// The datagrams received after the first `count`.
    func received(after count: Int) -> [[UInt8]] {
        datagrams.withLock { Array($0.dropFirst(count)) }
    }
}
