// A direct writer of the canonical JSON that `JobSpec.encodedJSON()` returns,
// because JSONEncoder took a quarter of the time of `berth submit --file`.
// It produces the same bytes for the specs it accepts and returns nil for the
// rest, which JSONEncoder still writes. Debug builds compare the two on every call.

extension JobSpec {
    /// Writes the canonical JSON without JSONEncoder. Returns nil when the spec
    /// has a value whose form this writer does not reproduce: a `Double` field
    /// (cpus, multiplier, jitter), a non-ASCII or control character, or the
    /// Perstack adapter.
    func canonicalJSONWithoutEncoder() -> String? {
        guard adapter == .generic, limits.cpus == nil, retry.multiplier == nil, retry.jitter == nil else { return nil }
        var writer = CanonicalJSONWriter()
        writer.beginObject()
        // The keys follow in byte order, as JSONEncoder's sortedKeys writes them.
        writer.key("command")
        writer.array(command)
        if !env.isEmpty {
            writer.key("env")
            writer.object(env)
        }
        if hold {
            writer.key("hold")
            writer.raw("true")
        }
        if let idempotencyKey {
            writer.key("idempotencyKey")
            writer.string(idempotencyKey)
        }
        writer.key("image")
        writer.string(image)
        if !labels.isEmpty {
            writer.key("labels")
            writer.object(labels)
        }
        if limits != Limits() {
            writer.key("limits")
            writer.beginObject()
            writer.optional("maxOutputBytes", limits.maxOutputBytes?.description)
            writer.optional("memory", limits.memory?.description)
            if let pids = limits.pids {
                writer.key("pids")
                writer.raw(String(pids))
            }
            writer.optional("timeout", limits.timeout?.description)
            writer.optional("workspaceDisk", limits.workspaceDisk?.description)
            writer.endObject()
        }
        writer.key("priority")
        writer.raw(String(priority))
        writer.key("queue")
        writer.string(queue)
        if retry != RetryOverrides() {
            writer.key("retry")
            writer.beginObject()
            writer.optional("initialDelay", retry.initialDelay?.description)
            if let maxAttempts = retry.maxAttempts {
                writer.key("maxAttempts")
                writer.raw(String(maxAttempts))
            }
            writer.optional("maxDelay", retry.maxDelay?.description)
            if let codes = retry.neverRetryExitCodes {
                writer.key("neverRetryExitCodes")
                writer.raw("[" + codes.map(String.init).joined(separator: ",") + "]")
            }
            if let outcomes = retry.retryOn {
                writer.key("retryOn")
                writer.array(outcomes.map(\.rawValue))
            }
            writer.endObject()
        }
        if let runAt {
            writer.key("runAt")
            writer.string(RunAtTime.format(runAt))
        }
        if !secrets.isEmpty {
            writer.key("secrets")
            writer.array(secrets)
        }
        writer.endObject()
        return writer.failed ? nil : writer.text
    }
}

/// Appends JSON to a byte buffer in JSONEncoder's compact form: no spaces,
/// `/` unescaped. Strings must be printable ASCII; any other character sets
/// `failed`. Bytes are collected in an array because appending to a `String`
/// piece by piece took more than half of this writer's time.
private struct CanonicalJSONWriter {
    private var bytes: [UInt8] = []
    var failed = false
    private var needsComma = false

    init() {
        bytes.reserveCapacity(256)
    }

    var text: String {
        String(decoding: bytes, as: UTF8.self)
    }

    mutating func beginObject() {
        separate()
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
    }

    mutating func endObject() {
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    /// Writes `"name":`; the value must follow.
    mutating func key(_ name: String) {
        separate()
        append(name)
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    mutating func string(_ value: String) {
        separate()
        append(value)
        needsComma = true
    }

    mutating func raw(_ value: String) {
        separate()
        bytes.append(contentsOf: value.utf8)
        needsComma = true
    }

    mutating func optional(_ name: String, _ value: String?) {
        guard let value else { return }
        key(name)
        string(value)
    }

    mutating func array(_ values: [String]) {
        separate()
        bytes.append(UInt8(ascii: "["))
        needsComma = false
        for value in values {
            string(value)
        }
        bytes.append(UInt8(ascii: "]"))
        needsComma = true
    }

    /// Writes a string dictionary with its keys in byte order, as sortedKeys does for ASCII keys.
    mutating func object(_ values: [String: String]) {
        beginObject()
        for (name, value) in values.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }) {
            key(name)
            string(value)
        }
        endObject()
    }

    private mutating func separate() {
        if needsComma {
            bytes.append(UInt8(ascii: ","))
        }
    }

    /// Appends `value` quoted, escaping `"` and `\`; fails on anything but printable ASCII.
    private mutating func append(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            guard byte >= 0x20, byte < 0x7f else {
                failed = true
                return
            }
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                bytes.append(UInt8(ascii: "\\"))
            }
            bytes.append(byte)
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
