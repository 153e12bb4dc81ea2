import BerthCore
import Testing

@testable import BerthEngine

@Suite("ContainerRunSpec")
struct ContainerRunSpecTests {
    static func baseSpec() -> ContainerRunSpec {
        ContainerRunSpec(name: "job-1", image: "localhost/app:1", command: ["run", "--privileged"])
    }

    @Test("arguments put image and command last")
    func argumentOrder() throws {
        var spec = Self.baseSpec()
        spec.labels = ["io.berth.job": "42"]
        spec.environment = ["MODE": "fast"]
        spec.user = "1000:1000"
        spec.memory = .mebibytes(64)
        spec.cpus = 0.5
        spec.pidsLimit = 32
        spec.workspace = "/var/lib/berth/workspaces/42"
        spec.extraFlags = ["--log-driver=k8s-file"]

        let arguments = try spec.createArguments(secretNames: ["API_TOKEN"])

        #expect(arguments.first == "create")
        let separator = try #require(arguments.firstIndex(of: "--"))
        #expect(Array(arguments[separator...]) == ["--", "localhost/app:1", "run", "--privileged"])
        let flags = arguments[1..<separator]
        #expect(flags.allSatisfy { $0.hasPrefix("--") })
        for expected in [
            "--name=job-1", "--label=io.berth.job=42", "--env=MODE=fast", "--env=API_TOKEN", "--user=1000:1000",
            "--network=none", "--read-only", "--tmpfs=/tmp:rw,nosuid,nodev,mode=1777,size=67108864",
            "--cap-drop=ALL", "--security-opt=no-new-privileges", "--init", "--pids-limit=32",
            "--memory=67108864b", "--memory-swap=67108864b", "--cpus=0.500", "--ulimit=nofile=1024:1024",
            "--volume=/var/lib/berth/workspaces/42:/workspace:rw", "--workdir=/workspace", "--pull=missing",
            "--log-driver=k8s-file",
        ] {
            #expect(flags.contains(expected), "missing \(expected)")
        }
        #expect(!arguments.contains("-t"))
        #expect(!arguments.contains("--tty"))
    }

    @Test("detached run puts the log file after extra flags")
    func runArguments() throws {
        var spec = Self.baseSpec()
        spec.extraFlags = ["--log-driver=journald"]
        spec.logFile = "/run/berth/containers/job-1/output.log"

        let arguments = try spec.runArguments(secretNames: [])
        let created = try spec.createArguments(secretNames: [])

        #expect(Array(arguments.prefix(2)) == ["run", "--detach"])
        let separator = try #require(arguments.firstIndex(of: "--"))
        #expect(Array(arguments[(separator - 3)..<separator]) == [
            "--log-driver=journald", "--log-driver=k8s-file", "--log-opt=path=/run/berth/containers/job-1/output.log",
        ])
        // The same flags as create, after the verb.
        #expect(Array(arguments.dropFirst(2)) == Array(created.dropFirst()))
    }

    @Test("CPU count formatting")
    func cpuFormatting() {
        #expect(ContainerRunSpec.formatCPUs(0.5) == "0.500")
        #expect(ContainerRunSpec.formatCPUs(2) == "2.000")
        #expect(ContainerRunSpec.formatCPUs(0.001) == "0.001")
        #expect(ContainerRunSpec.formatCPUs(1.25) == "1.250")
    }

    struct Rejection: CustomTestStringConvertible, Sendable {
        var name: String
        var field: String
        var change: @Sendable (inout ContainerRunSpec) -> Void
        var testDescription: String { name }
    }

    static let rejections: [Rejection] = [
        Rejection(name: "name as a flag", field: "container name") { $0.name = "--rm" },
        Rejection(name: "name with a space", field: "container name") { $0.name = "a b" },
        Rejection(name: "image as a flag", field: "image") { $0.image = "--privileged" },
        Rejection(name: "label key as a flag", field: "label key") { $0.labels = ["-x": "1"] },
        Rejection(name: "label value with newline", field: "value of label a") { $0.labels = ["a": "1\n2"] },
        Rejection(name: "env name as a flag", field: "environment variable name") { $0.environment = ["--privileged": "1"] },
        Rejection(name: "env name with '='", field: "environment variable name") { $0.environment = ["A=B": "1"] },
        Rejection(name: "env value with NUL", field: "value of environment variable A") { $0.environment = ["A": "x\u{0}y"] },
        Rejection(name: "user as a flag", field: "user") { $0.user = "--privileged" },
        Rejection(name: "user with two colons", field: "user") { $0.user = "a:b:c" },
        Rejection(name: "network as a flag", field: "network") { $0.network = "-host" },
        Rejection(name: "network of another container", field: "network") { $0.network = "container:abc" },
        Rejection(name: "relative workspace", field: "workspace") { $0.workspace = "work" },
        Rejection(name: "workspace with a colon", field: "workspace") { $0.workspace = "/a:/etc" },
        Rejection(name: "zero memory", field: "memory") { $0.memory = ByteSize(bytes: 0) },
        Rejection(name: "negative cpus", field: "cpus") { $0.cpus = -1 },
        Rejection(name: "infinite cpus", field: "cpus") { $0.cpus = .infinity },
        Rejection(name: "zero pids", field: "pids limit") { $0.pidsLimit = 0 },
        Rejection(name: "soft above hard", field: "ulimit") { $0.ulimits = [ContainerUlimit(.nofile, soft: 10, hard: 5)] },
        Rejection(name: "NUL in the command", field: "command argument 1") { $0.command = ["a", "b\u{0}"] },
        Rejection(name: "relative log file", field: "log file") { $0.logFile = "output.log" },
        Rejection(name: "comma in the log file", field: "log file") { $0.logFile = "/run/a,b/output.log" },
    ]

    @Test("invalid values are rejected", arguments: rejections)
    func invalidValues(_ rejection: Rejection) {
        var spec = Self.baseSpec()
        rejection.change(&spec)

        #expect {
            try spec.createArguments(secretNames: [])
        } throws: { error in
            guard case ContainerEngineError.invalidValue(let field, _, _) = error else { return false }
            return field == rejection.field
        }
    }

    @Test("secret names are checked")
    func secretNames() {
        var spec = Self.baseSpec()
        spec.environment = ["TOKEN": "plain"]

        #expect(throws: ContainerEngineError.self) { try spec.createArguments(secretNames: ["-e"]) }
        #expect(throws: ContainerEngineError.self) { try spec.createArguments(secretNames: ["TOKEN"]) }
    }

    @Test("engine environment rejects service variables")
    func forbiddenEngineVariables() throws {
        for name in ["NOTIFY_SOCKET", "INVOCATION_ID", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "PATH", "1BAD"] {
            #expect(throws: ContainerEngineError.self, "\(name) was accepted") {
                try EngineEnvironment(home: "/root", passthrough: [name: "x"])
            }
        }

        let environment = try EngineEnvironment(home: "/root", passthrough: ["CONTAINERS_CONF": "/etc/c.conf"])
        #expect(environment.variables == [
            "PATH": EngineEnvironment.defaultPath, "HOME": "/root", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
            "CONTAINERS_CONF": "/etc/c.conf",
        ])
    }

    @Test("inheriting copies only the listed variables")
    func inheritingEnvironment() throws {
        let source = [
            "PATH": "/bin", "HOME": "/home/berth", "XDG_RUNTIME_DIR": "/run/user/1", "NOTIFY_SOCKET": "/run/notify",
            "SECRET": "x",
        ]
        let environment = try EngineEnvironment.inheriting(["XDG_RUNTIME_DIR", "DOCKER_HOST"], from: source)

        #expect(environment.variables == [
            "PATH": "/bin", "HOME": "/home/berth", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
            "XDG_RUNTIME_DIR": "/run/user/1",
        ])
    }
}
