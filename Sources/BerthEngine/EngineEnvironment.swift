/// The whole environment of every engine command: `PATH`, `HOME`, the locale and
/// the variables the engine needs, all passed explicitly and nothing inherited.
public struct EngineEnvironment: Hashable, Sendable {
    public static let defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    public static let defaultLocale = "C.UTF-8"

    /// Variables that systemd sets for berth's own service and that must never reach the engine.
    ///
    /// Given `NOTIFY_SOCKET`, podman by default lets the container send readiness
    /// messages to it, which systemd would take as berth's own. The `LISTEN_*`
    /// variables describe sockets passed to berth, and `WATCHDOG_*` its watchdog.
    public static let forbiddenNames: Set<String> = ["NOTIFY_SOCKET", "INVOCATION_ID"]
    public static let forbiddenPrefixes = ["WATCHDOG_", "LISTEN_"]
    /// Variables set through their own properties, not through `passthrough`.
    public static let reservedNames: Set<String> = ["PATH", "HOME", "LANG", "LC_ALL"]

    public let path: String
    public let home: String
    /// The value of both `LANG` and `LC_ALL`.
    public let locale: String
    /// Further variables the engine needs, such as `CONTAINERS_CONF`, `XDG_RUNTIME_DIR` or `DOCKER_HOST`.
    public let passthrough: [String: String]

    /// Creates an environment, rejecting a passthrough variable that is forbidden, reserved or badly named.
    public init(
        path: String = defaultPath, home: String, locale: String = defaultLocale, passthrough: [String: String] = [:]
    ) throws(ContainerEngineError) {
        for name in passthrough.keys.sorted() {
            try Self.checkPassthroughName(name)
        }
        self.path = path
        self.home = home
        self.locale = locale
        self.passthrough = passthrough
    }

    /// Creates an environment that copies the listed variables from `source`, typically this process's environment.
    ///
    /// Names missing from `source` are skipped. `PATH` and `HOME` come from
    /// `source` when it has them, or from the defaults.
    public static func inheriting(_ names: [String], from source: [String: String]) throws(ContainerEngineError) -> EngineEnvironment {
        var passthrough: [String: String] = [:]
        for name in names {
            if let value = source[name] {
                passthrough[name] = value
            }
        }
        return try EngineEnvironment(
            path: source["PATH"] ?? defaultPath, home: source["HOME"] ?? "/root", passthrough: passthrough)
    }

    /// All variables of an engine command's environment.
    public var variables: [String: String] {
        var variables = passthrough
        variables["PATH"] = path
        variables["HOME"] = home
        variables["LANG"] = locale
        variables["LC_ALL"] = locale
        return variables
    }

    private static func checkPassthroughName(_ name: String) throws(ContainerEngineError) {
        guard ArgumentValidation.isEnvironmentName(name) else {
            throw .invalidValue(
                field: "engine environment variable name", value: name,
                reason: "use letters, digits and '_', not starting with a digit")
        }
        guard !reservedNames.contains(name) else {
            throw .invalidValue(
                field: "engine environment variable name", value: name,
                reason: "PATH, HOME, LANG and LC_ALL are set through their own settings")
        }
        guard !forbiddenNames.contains(name), !forbiddenPrefixes.contains(where: { name.hasPrefix($0) }) else {
            throw .invalidValue(
                field: "engine environment variable name", value: name,
                reason: "systemd sets it for berth itself, so the engine must not see it")
        }
    }
}
