import Foundation

/// The state of one container and the limits the engine actually applied, as
/// `container inspect` reports them.
public struct ContainerInspection: Hashable, Sendable {
    public var id: String
    public var name: String
    /// The image as named at create time.
    public var image: String
    public var labels: [String: String]
    public var state: State
    public var limits: Limits
    /// Podman's per-container directory, where podman 4.3 looks for conmon's OOM marker.
    var staticDirectory: String?

    /// The container's run state.
    public struct State: Hashable, Sendable {
        /// The engine's status word: `created`, `running`, `exited` and so on.
        public var status: String
        public var isRunning: Bool
        public var exitCode: Int32
        /// The kernel's OOM killer ended a process of the container.
        public var isOOMKilled: Bool
        /// Nil until the container has started.
        public var startedAt: Date?
        /// Nil until the container has finished.
        public var finishedAt: Date?
        /// The engine's error message for a failed start, or empty.
        public var error: String
    }

    /// The limits read back from `HostConfig`, in the engine's units.
    public struct Limits: Hashable, Sendable {
        /// The memory limit in bytes, 0 for none.
        public var memory: Int64
        /// The memory-plus-swap limit in bytes, 0 for none or -1 for unlimited swap.
        public var memorySwap: Int64
        /// The pids limit, 0 or nil for none.
        public var pidsLimit: Int64?
        /// CPUs in billionths, 0 for none.
        public var nanoCPUs: Int64
        public var readOnlyRootFilesystem: Bool
        /// Dropped capabilities: `ALL` on docker, every default capability by name on podman.
        public var capabilitiesDropped: [String]
        public var networkMode: String
        /// The ulimits for the resources that `ContainerUlimit.Resource` lists, without the others.
        public var ulimits: [ContainerUlimit]
    }
}

extension ContainerInspection {
    /// Parses the JSON array that `container inspect` prints for one container.
    static func decode(_ data: Data) throws(ContainerEngineError) -> ContainerInspection {
        let records: [InspectRecord]
        do {
            records = try JSONDecoder().decode([InspectRecord].self, from: data)
        } catch {
            throw .unexpectedOutput(operation: "inspect", detail: "invalid JSON: \(error)")
        }
        guard let record = records.first else {
            throw .unexpectedOutput(operation: "inspect", detail: "an empty array")
        }

        let state = record.State
        let host = record.HostConfig
        let ulimits = (host?.Ulimits ?? []).compactMap { entry -> ContainerUlimit? in
            // Podman names them RLIMIT_NOFILE, docker nofile.
            var name = entry.Name.lowercased()
            if name.hasPrefix("rlimit_") {
                name.removeFirst("rlimit_".count)
            }
            guard let resource = ContainerUlimit.Resource(rawValue: name) else { return nil }
            return ContainerUlimit(resource, soft: entry.Soft, hard: entry.Hard)
        }
        let name = record.Name ?? ""

        return ContainerInspection(
            id: record.Id,
            name: name.hasPrefix("/") ? String(name.dropFirst()) : name,
            image: record.Config?.Image ?? record.ImageName ?? "",
            labels: record.Config?.Labels ?? [:],
            state: State(
                status: state?.Status ?? "",
                isRunning: state?.Running ?? false,
                exitCode: state?.ExitCode ?? 0,
                isOOMKilled: state?.OOMKilled ?? false,
                startedAt: state?.StartedAt.flatMap(EngineTimestamp.parse),
                finishedAt: state?.FinishedAt.flatMap(EngineTimestamp.parse),
                error: state?.Error ?? ""),
            limits: Limits(
                memory: host?.Memory ?? 0,
                memorySwap: host?.MemorySwap ?? 0,
                pidsLimit: host?.PidsLimit,
                nanoCPUs: host?.NanoCpus ?? 0,
                readOnlyRootFilesystem: host?.ReadonlyRootfs ?? false,
                capabilitiesDropped: host?.CapDrop ?? [],
                networkMode: host?.NetworkMode ?? "",
                ulimits: ulimits),
            staticDirectory: record.StaticDir)
    }

    // The field names below are the engines' JSON keys.
    private struct InspectRecord: Decodable {
        var Id: String
        var Name: String?
        var ImageName: String?
        var StaticDir: String?
        var State: StateRecord?
        var HostConfig: HostConfigRecord?
        var Config: ConfigRecord?
    }

    private struct StateRecord: Decodable {
        var Status: String?
        var Running: Bool?
        var ExitCode: Int32?
        var OOMKilled: Bool?
        var StartedAt: String?
        var FinishedAt: String?
        var Error: String?
    }

    private struct HostConfigRecord: Decodable {
        var Memory: Int64?
        var MemorySwap: Int64?
        var PidsLimit: Int64?
        var NanoCpus: Int64?
        var ReadonlyRootfs: Bool?
        var CapDrop: [String]?
        var NetworkMode: String?
        var Ulimits: [UlimitRecord]?
    }

    private struct UlimitRecord: Decodable {
        var Name: String
        var Soft: Int64
        var Hard: Int64
    }

    private struct ConfigRecord: Decodable {
        var Image: String?
        var Labels: [String: String]?
    }
}

/// Parses the RFC 3339 times that docker and podman print, such as
/// `2024-12-04T19:55:00.123456789Z` or `2024-12-04T20:55:00.1+01:00`.
enum EngineTimestamp {
    /// Returns the time, or nil for text that is not a timestamp and for year 1,
    /// which both engines print for a time that has not happened yet.
    static func parse(_ text: String) -> Date? {
        let scalars = Array(text.unicodeScalars)
        guard scalars.count >= 20, scalars[4] == "-", scalars[7] == "-", scalars[10] == "T" || scalars[10] == " ",
            scalars[13] == ":", scalars[16] == ":",
            let year = number(scalars[0..<4]), let month = number(scalars[5..<7]), let day = number(scalars[8..<10]),
            let hour = number(scalars[11..<13]), let minute = number(scalars[14..<16]),
            let second = number(scalars[17..<19]),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        if year <= 1 { return nil }

        var index = 19
        var fraction = 0.0
        if scalars[index] == "." {
            index += 1
            var scale = 0.1
            while index < scalars.count, let digit = number(scalars[index..<index + 1]) {
                fraction += Double(digit) * scale
                scale /= 10
                index += 1
            }
        }

        guard index < scalars.count else { return nil }
        var offsetSeconds = 0
        if scalars[index] == "Z" {
            guard index + 1 == scalars.count else { return nil }
        } else {
            guard scalars.count == index + 6, scalars[index] == "+" || scalars[index] == "-", scalars[index + 3] == ":",
                let offsetHours = number(scalars[(index + 1)..<(index + 3)]),
                let offsetMinutes = number(scalars[(index + 4)..<(index + 6)])
            else { return nil }
            offsetSeconds = (offsetHours * 3600 + offsetMinutes * 60) * (scalars[index] == "-" ? -1 : 1)
        }

        let days = daysSinceEpoch(year: year, month: month, day: day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
    }

    private static func number(_ digits: ArraySlice<Unicode.Scalar>) -> Int? {
        var value = 0
        for scalar in digits {
            guard ("0"..."9").contains(scalar) else { return nil }
            value = value * 10 + Int(scalar.value - 48)
        }
        return value
    }

    /// Days from 1970-01-01 to the given date of the proleptic Gregorian calendar.
    static func daysSinceEpoch(year: Int, month: Int, day: Int) -> Int {
        // Count years from March, so that the leap day is the last day of a year.
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = (shiftedYear >= 0 ? shiftedYear : shiftedYear - 399) / 400
        let yearOfEra = shiftedYear - era * 400
        let monthFromMarch = (month + 9) % 12
        let dayOfYear = (153 * monthFromMarch + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
