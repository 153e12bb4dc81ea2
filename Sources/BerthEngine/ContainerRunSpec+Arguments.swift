import BerthCore

extension ContainerRunSpec {
    /// Builds the arguments of `create`, with `--env NAME` for each secret, after validating every value.
    ///
    /// Flags use the `--flag=value` form, so even a value that slipped past
    /// validation would be read as that flag's value. The image and command
    /// come last, after `--`.
    func createArguments(secretNames: [String]) throws(ContainerEngineError) -> [String] {
        try arguments(verb: ["create"], secretNames: secretNames)
    }

    /// Builds the arguments of `run --detach`, which creates and starts the
    /// container in one engine command, with the same flags as `create`.
    func runArguments(secretNames: [String]) throws(ContainerEngineError) -> [String] {
        try arguments(verb: ["run", "--detach"], secretNames: secretNames)
    }

    private func arguments(verb: [String], secretNames: [String]) throws(ContainerEngineError) -> [String] {
        try validate(secretNames: secretNames)

        var arguments = verb + ["--name=\(name)"]
        for (key, value) in labels.sorted(by: { $0.key < $1.key }) {
            arguments.append("--label=\(key)=\(value)")
        }
        for (name, value) in environment.sorted(by: { $0.key < $1.key }) {
            arguments.append("--env=\(name)=\(value)")
        }
        // Without a value, the engine copies the variable from its own environment.
        for name in secretNames.sorted() {
            arguments.append("--env=\(name)")
        }
        if let user {
            arguments.append("--user=\(user)")
        }
        arguments.append("--network=\(network)")

        if readOnlyRootFilesystem {
            arguments.append("--read-only")
        }
        if let tmpfsSize {
            arguments.append("--tmpfs=/tmp:rw,nosuid,nodev,mode=1777,size=\(tmpfsSize.bytes)")
        }
        arguments += ["--cap-drop=ALL", "--security-opt=no-new-privileges", "--init"]

        if let pidsLimit {
            arguments.append("--pids-limit=\(pidsLimit)")
        }
        if let memory {
            arguments += ["--memory=\(memory.bytes)b", "--memory-swap=\(memory.bytes)b"]
        }
        if let cpus {
            arguments.append("--cpus=\(Self.formatCPUs(cpus))")
        }
        for ulimit in ulimits {
            arguments.append("--ulimit=\(ulimit.argument)")
        }

        if let workspace {
            arguments += ["--volume=\(workspace):\(Self.workspaceMountPoint):rw", "--workdir=\(Self.workspaceMountPoint)"]
        }
        arguments.append("--pull=\(pullPolicy.rawValue)")
        arguments += extraFlags
        if let logFile {
            arguments += ["--log-driver=k8s-file", "--log-opt=path=\(logFile)"]
        }
        if let conmonPIDFile {
            arguments.append("--conmon-pidfile=\(conmonPIDFile)")
        }

        arguments += ["--", image]
        arguments += command
        return arguments
    }

    /// Formats CPUs with three decimals and no exponent, such as `0.500`.
    static func formatCPUs(_ cpus: Double) -> String {
        let thousandths = Int64((cpus * 1000).rounded())
        let fraction = String(thousandths % 1000)
        return "\(thousandths / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)"
    }

    /// Checks every value that lands among the flags, and the limits.
    func validate(secretNames: [String]) throws(ContainerEngineError) {
        guard ArgumentValidation.isContainerName(name) else {
            throw .invalidValue(
                field: "container name", value: name,
                reason: "use up to 128 letters, digits, '_', '.' or '-', starting with a letter or digit")
        }
        if let problem = ImageReference.problem(with: image) {
            throw .invalidValue(field: "image", value: image, reason: problem)
        }
        for (index, argument) in command.enumerated() where argument.utf8.contains(0) {
            throw .invalidValue(field: "command argument \(index)", value: "", reason: "contains a NUL byte")
        }

        for (key, value) in labels {
            guard ArgumentValidation.isLabelKey(key) else {
                throw .invalidValue(
                    field: "label key", value: key,
                    reason: "use letters, digits, '.', '_', '-' or '/', starting with a letter or digit")
            }
            guard !ArgumentValidation.containsControlCharacter(value) else {
                throw .invalidValue(field: "value of label \(key)", value: value, reason: "contains a control character")
            }
        }

        for (name, value) in environment {
            try Self.checkEnvironmentName(name, field: "environment variable name")
            // The value stays out of the message, because a caller may have put a secret here by mistake.
            guard !value.utf8.contains(0) else {
                throw .invalidValue(field: "value of environment variable \(name)", value: "", reason: "contains a NUL byte")
            }
        }
        for name in secretNames {
            try Self.checkEnvironmentName(name, field: "secret name")
            guard environment[name] == nil else {
                throw .invalidValue(field: "secret name", value: name, reason: "is also set as a plain environment variable")
            }
        }

        if let user, !ArgumentValidation.isUser(user) {
            throw .invalidValue(
                field: "user", value: user,
                reason: "use a name or number, optionally with :group, of letters, digits, '_', '.' or '-'")
        }
        guard ArgumentValidation.isNetworkName(network) else {
            throw .invalidValue(
                field: "network", value: network,
                reason: "use a network name of letters, digits, '_', '.' or '-', such as none")
        }
        if let workspace {
            guard workspace.hasPrefix("/"), !workspace.contains(":"), !workspace.contains(","),
                !ArgumentValidation.containsControlCharacter(workspace)
            else {
                throw .invalidValue(
                    field: "workspace", value: workspace,
                    reason: "use an absolute host path without ':', ',' or control characters")
            }
        }
        if let logFile {
            guard logFile.hasPrefix("/"), !logFile.contains(","), !ArgumentValidation.containsControlCharacter(logFile) else {
                throw .invalidValue(
                    field: "log file", value: logFile, reason: "use an absolute host path without ',' or control characters")
            }
        }
        if let conmonPIDFile {
            guard conmonPIDFile.hasPrefix("/"), !ArgumentValidation.containsControlCharacter(conmonPIDFile) else {
                throw .invalidValue(
                    field: "conmon pid file", value: conmonPIDFile, reason: "use an absolute host path without control characters")
            }
        }
        try validateLimits()
    }

    private func validateLimits() throws(ContainerEngineError) {
        if let tmpfsSize, tmpfsSize.bytes <= 0 {
            throw .invalidValue(field: "tmpfs size", value: tmpfsSize.description, reason: "must be positive")
        }
        if let memory, memory.bytes <= 0 {
            throw .invalidValue(field: "memory", value: memory.description, reason: "must be positive")
        }
        if let cpus, !(cpus.isFinite && cpus >= 0.001 && cpus <= 1_000_000) {
            throw .invalidValue(field: "cpus", value: "\(cpus)", reason: "must be a number from 0.001 up")
        }
        if let pidsLimit, pidsLimit <= 0 {
            throw .invalidValue(field: "pids limit", value: "\(pidsLimit)", reason: "must be positive")
        }
        for ulimit in ulimits where ulimit.soft < 0 || ulimit.soft > ulimit.hard {
            throw .invalidValue(
                field: "ulimit", value: ulimit.argument, reason: "soft must be from 0 up to the hard limit")
        }
        for (index, flag) in extraFlags.enumerated() where flag.utf8.contains(0) {
            throw .invalidValue(field: "extra flag \(index)", value: "", reason: "contains a NUL byte")
        }
    }

    private static func checkEnvironmentName(_ name: String, field: String) throws(ContainerEngineError) {
        guard ArgumentValidation.isEnvironmentName(name) else {
            throw .invalidValue(
                field: field, value: name, reason: "use letters, digits and '_', not starting with a digit")
        }
    }
}
