import BerthCore
import Foundation
import Testing

/// A spec that `JobSpec.decode(json:)` must reject, with the field the error
/// must name and a fragment its problem must contain.
struct BadSpec: Sendable, CustomTestStringConvertible {
    let name: String
    let json: String
    let field: String
    let problem: String

    var testDescription: String { name }
}

/// Builds the JSON of a spec with the given image and command and no other field.
private func specJSON(image: String, command: String = #"["echo","hi"]"#) -> String {
    #"{"image":"# + image + #","command":"# + command + "}"
}

private func perstack(_ fields: String) -> String {
    specJSON(#""adapter":{"type":"perstack","# + fields + "}")
}

private let validPerstack = #""expert":"my-expert","query":"summarise""#

private let manyArguments = "[" + Array(repeating: #""a""#, count: 4097).joined(separator: ",") + "]"

private let manyLabels = "{" + (0..<65).map { #""l\#($0)":"v""# }.joined(separator: ",") + "}"

let badSpecs: [BadSpec] = [
    // Unknown fields, at the top level and nested.
    BadSpec(name: "unknown top-level field", json: specJSON(#""imagePullPolicy":"always""#),
            field: "imagePullPolicy", problem: "unknown field; valid fields here are adapter, command, env"),
    BadSpec(name: "misspelt limit", json: specJSON(#""limits":{"memroy":"1g"}"#),
            field: "limits.memroy", problem: "unknown field; did you mean memory? Valid fields here are cpus, maxOutputBytes, memory"),
    BadSpec(name: "misspelt retry field", json: specJSON(#""retry":{"maxAttempt":3}"#),
            field: "retry.maxAttempt", problem: "unknown field; did you mean maxAttempts? Valid fields here are initialDelay, jitter"),
    BadSpec(name: "misspelt top-level field", json: specJSON(#""limit":{"cpus":1}"#),
            field: "limit", problem: "unknown field; did you mean limits? Valid fields here are"),
    BadSpec(name: "field on generic adapter", json: specJSON(#""adapter":{"type":"generic","expert":"x"}"#),
            field: "adapter.expert", problem: "unknown field; valid fields here are type"),
    BadSpec(name: "field on perstack adapter", json: perstack(validPerstack + #","steps":3"#),
            field: "adapter.steps", problem: "unknown field; valid fields here are config, expert"),

    // Image references, including ones an engine could read as its own flags.
    BadSpec(name: "image --privileged", json: specJSON(image: #""--privileged""#),
            field: "image", problem: "invalid name component \"--privileged\""),
    BadSpec(name: "image -v", json: specJSON(image: #""-v""#),
            field: "image", problem: "invalid name component \"-v\""),
    BadSpec(name: "image with flag after space", json: specJSON(image: #""alpine --privileged""#),
            field: "image", problem: "contains a space"),
    BadSpec(name: "image empty", json: specJSON(image: #""""#),
            field: "image", problem: "is empty; expected a reference such as alpine:3.20"),
    BadSpec(name: "image uppercase", json: specJSON(image: #""Alpine""#),
            field: "image", problem: "use lowercase letters and digits"),
    BadSpec(name: "image bad digest", json: specJSON(image: #""alpine@sha256:zz""#),
            field: "image", problem: "invalid digest"),

    // The command.
    BadSpec(name: "command empty", json: specJSON(image: #""alpine""#, command: "[]"),
            field: "command", problem: "has 0 arguments; expected 1 to 4096"),
    BadSpec(name: "command program empty", json: specJSON(image: #""alpine""#, command: #"["","x"]"#),
            field: "command[0]", problem: "the program name is empty"),
    BadSpec(name: "command NUL in argument", json: specJSON(image: #""alpine""#, command: #"["echo","a\u0000b"]"#),
            field: "command[1]", problem: "contains a NUL byte"),
    BadSpec(name: "command NUL in program", json: specJSON(image: #""alpine""#, command: #"["ec\u0000ho"]"#),
            field: "command[0]", problem: "contains a NUL byte"),
    BadSpec(name: "command too long", json: specJSON(image: #""alpine""#, command: manyArguments),
            field: "command", problem: "has 4097 arguments; expected 1 to 4096"),
    BadSpec(name: "command missing", json: #"{"image":"alpine"}"#,
            field: "command", problem: "is missing"),
    BadSpec(name: "image missing", json: #"{"command":["true"]}"#,
            field: "image", problem: "is missing"),

    // Environment and secrets.
    BadSpec(name: "env name starts with digit", json: specJSON(#""env":{"1PATH":"x"}"#),
            field: "env", problem: "letters, digits and '_' that does not start with a digit"),
    BadSpec(name: "env name with dash", json: specJSON(#""env":{"MY-VAR":"x"}"#),
            field: "env", problem: "letters, digits and '_'"),
    BadSpec(name: "env name with equals", json: specJSON(#""env":{"A=B":"x"}"#),
            field: "env", problem: "letters, digits and '_'"),
    BadSpec(name: "env name empty", json: specJSON(#""env":{"":"x"}"#),
            field: "env", problem: "letters, digits and '_'"),
    BadSpec(name: "env name with NUL", json: specJSON(#""env":{"A\u0000B":"x"}"#),
            field: "env", problem: "letters, digits and '_'"),
    BadSpec(name: "env name reserved", json: specJSON(#""env":{"BERTH_JOB_ID":"7"}"#),
            field: "env", problem: "names starting with BERTH_ are set by the daemon"),
    BadSpec(name: "env value NUL", json: specJSON(#""env":{"TOKEN":"ab\u0000cd"}"#),
            field: "env.TOKEN", problem: "contains a NUL byte"),
    BadSpec(name: "secret name reserved", json: specJSON(#""secrets":["BERTH_KEY"]"#),
            field: "secrets[0]", problem: "names starting with BERTH_ are set by the daemon"),
    BadSpec(name: "secret name invalid", json: specJSON(#""secrets":["API KEY"]"#),
            field: "secrets[0]", problem: "letters, digits and '_'"),
    BadSpec(name: "secret listed twice", json: specJSON(#""secrets":["API_KEY","API_KEY"]"#),
            field: "secrets[1]", problem: "is listed twice"),
    BadSpec(name: "secret also in env", json: specJSON(#""env":{"API_KEY":"x"},"secrets":["API_KEY"]"#),
            field: "secrets[0]", problem: "is also set in env"),

    // Queue, priority, idempotency key and labels.
    BadSpec(name: "queue empty", json: specJSON(#""queue":"""#),
            field: "queue", problem: "1 to 64 letters"),
    BadSpec(name: "queue starts with dash", json: specJSON(#""queue":"-q""#),
            field: "queue", problem: "starting with a letter or digit"),
    BadSpec(name: "queue too long", json: specJSON(#""queue":""# + String(repeating: "q", count: 65) + #"""#),
            field: "queue", problem: "1 to 64 letters"),
    BadSpec(name: "priority too high", json: specJSON(#""priority":1001"#),
            field: "priority", problem: "out of range; expected -1000 to 1000"),
    BadSpec(name: "priority too low", json: specJSON(#""priority":-1001"#),
            field: "priority", problem: "out of range; expected -1000 to 1000"),
    BadSpec(name: "idempotency key empty", json: specJSON(#""idempotencyKey":"""#),
            field: "idempotencyKey", problem: "expected 1 to 200 bytes"),
    BadSpec(name: "idempotency key too long", json: specJSON(#""idempotencyKey":""# + String(repeating: "k", count: 201) + #"""#),
            field: "idempotencyKey", problem: "expected 1 to 200 bytes"),
    BadSpec(name: "idempotency key newline", json: specJSON(#""idempotencyKey":"a\nb""#),
            field: "idempotencyKey", problem: "without control characters"),
    BadSpec(name: "label key invalid", json: specJSON(#""labels":{"-team":"a"}"#),
            field: "labels", problem: "starting with a letter or digit"),
    BadSpec(name: "label value control", json: specJSON(#""labels":{"team":"a\u0007"}"#),
            field: "labels.team", problem: "without control characters"),
    BadSpec(name: "label value too long", json: specJSON(#""labels":{"team":""# + String(repeating: "v", count: 257) + #""}"#),
            field: "labels.team", problem: "at most 256 bytes"),
    BadSpec(name: "labels too many", json: specJSON(#""labels":"# + manyLabels),
            field: "labels", problem: "has 65 labels; the maximum is 64"),

    // Limits.
    BadSpec(name: "memory too small", json: specJSON(#""limits":{"memory":"1m"}"#),
            field: "limits.memory", problem: "out of range; expected 6m to 1t"),
    BadSpec(name: "memory too large", json: specJSON(#""limits":{"memory":"2t"}"#),
            field: "limits.memory", problem: "out of range; expected 6m to 1t"),
    BadSpec(name: "memory not a size", json: specJSON(#""limits":{"memory":"lots"}"#),
            field: "limits.memory", problem: "\"lots\" is not a size"),
    BadSpec(name: "memory negative", json: specJSON(#""limits":{"memory":-1}"#),
            field: "limits.memory", problem: "-1 is negative"),
    BadSpec(name: "cpus zero", json: specJSON(#""limits":{"cpus":0}"#),
            field: "limits.cpus", problem: "out of range; expected 0.01 to 1024"),
    BadSpec(name: "cpus too many", json: specJSON(#""limits":{"cpus":2000}"#),
            field: "limits.cpus", problem: "out of range"),
    BadSpec(name: "pids too few", json: specJSON(#""limits":{"pids":1}"#),
            field: "limits.pids", problem: "out of range; expected 8 to 1000000"),
    BadSpec(name: "timeout zero", json: specJSON(#""limits":{"timeout":"0s"}"#),
            field: "limits.timeout", problem: "out of range; expected 1s to 30d"),
    BadSpec(name: "timeout too long", json: specJSON(#""limits":{"timeout":"31d"}"#),
            field: "limits.timeout", problem: "out of range; expected 1s to 30d"),
    BadSpec(name: "timeout without unit", json: specJSON(#""limits":{"timeout":"30"}"#),
            field: "limits.timeout", problem: "expected a number with a unit"),
    BadSpec(name: "workspace disk too small", json: specJSON(#""limits":{"workspaceDisk":"512k"}"#),
            field: "limits.workspaceDisk", problem: "out of range; expected 1m to 16t"),
    BadSpec(name: "output cap too small", json: specJSON(#""limits":{"maxOutputBytes":"100"}"#),
            field: "limits.maxOutputBytes", problem: "out of range; expected 1k to 64g"),

    // Retry overrides.
    BadSpec(name: "max attempts zero", json: specJSON(#""retry":{"maxAttempts":0}"#),
            field: "retry.maxAttempts", problem: "out of range; expected 1 to 100"),
    BadSpec(name: "max attempts too many", json: specJSON(#""retry":{"maxAttempts":101}"#),
            field: "retry.maxAttempts", problem: "out of range; expected 1 to 100"),
    BadSpec(name: "initial delay too long", json: specJSON(#""retry":{"initialDelay":"31d"}"#),
            field: "retry.initialDelay", problem: "out of range; expected 0s to 30d"),
    BadSpec(name: "max delay too long", json: specJSON(#""retry":{"maxDelay":"40d"}"#),
            field: "retry.maxDelay", problem: "out of range; expected 0s to 30d"),
    BadSpec(name: "max delay below initial", json: specJSON(#""retry":{"initialDelay":"1m","maxDelay":"30s"}"#),
            field: "retry.maxDelay", problem: "is shorter than retry.initialDelay 1m"),
    BadSpec(name: "multiplier below one", json: specJSON(#""retry":{"multiplier":0.5}"#),
            field: "retry.multiplier", problem: "out of range; expected 1 to 100"),
    BadSpec(name: "jitter above one", json: specJSON(#""retry":{"jitter":1.5}"#),
            field: "retry.jitter", problem: "out of range; expected 0 to 1"),
    BadSpec(name: "exit code too large", json: specJSON(#""retry":{"neverRetryExitCodes":[2,256]}"#),
            field: "retry.neverRetryExitCodes[1]", problem: "out of range; expected 0 to 255"),
    BadSpec(name: "exit code negative", json: specJSON(#""retry":{"neverRetryExitCodes":[-1]}"#),
            field: "retry.neverRetryExitCodes[0]", problem: "out of range; expected 0 to 255"),
    BadSpec(name: "retry on success", json: specJSON(#""retry":{"retryOn":["failed","succeeded"]}"#),
            field: "retry.retryOn[1]", problem: "never retries; expected failed, out_of_memory, timed_out or lost"),
    BadSpec(name: "retry on interrupted", json: specJSON(#""retry":{"retryOn":["interrupted"]}"#),
            field: "retry.retryOn[0]", problem: "never retries"),
    BadSpec(name: "retry on unknown outcome", json: specJSON(#""retry":{"retryOn":["crashed"]}"#),
            field: "retry.retryOn[0]", problem: "unknown outcome; expected failed"),

    // Run-at times.
    BadSpec(name: "run-at without zone", json: specJSON(#""runAt":"2026-12-04T09:30:00""#),
            field: "runAt", problem: "expected an ISO 8601 date and time with a zone"),
    BadSpec(name: "run-at with fraction without zone", json: specJSON(#""runAt":"2026-12-04T09:30:00.250""#),
            field: "runAt", problem: "with a zone"),
    BadSpec(name: "run-at date only", json: specJSON(#""runAt":"2026-12-04""#),
            field: "runAt", problem: "with a zone"),
    BadSpec(name: "run-at words", json: specJSON(#""runAt":"tomorrow""#),
            field: "runAt", problem: "with a zone"),
    BadSpec(name: "run-at impossible date", json: specJSON(#""runAt":"2026-13-40T25:00:00Z""#),
            field: "runAt", problem: "not a valid ISO 8601 date and time"),
    BadSpec(name: "run-at space separator", json: specJSON(#""runAt":"2026-12-04 09:30:00Z""#),
            field: "runAt", problem: "ISO 8601"),
    BadSpec(name: "run-at number", json: specJSON(#""runAt":1796376600000"#),
            field: "runAt", problem: "expected a string"),

    // Adapters.
    BadSpec(name: "adapter unknown type", json: specJSON(#""adapter":{"type":"docker"}"#),
            field: "adapter.type", problem: "unknown adapter; expected \"generic\" or \"perstack\""),
    BadSpec(name: "adapter without type", json: specJSON(#""adapter":{}"#),
            field: "adapter.type", problem: "is missing"),
    BadSpec(name: "perstack without query", json: perstack(#""expert":"my-expert""#),
            field: "adapter.query", problem: "is missing"),
    BadSpec(name: "perstack expert like a flag", json: perstack(#""expert":"--help","query":"q""#),
            field: "adapter.expert", problem: "starting with a letter, digit or '@'"),
    BadSpec(name: "perstack query NUL", json: perstack(#""expert":"e","query":"a\u0000""#),
            field: "adapter.query", problem: "contains a NUL byte"),
    BadSpec(name: "perstack relative config", json: perstack(validPerstack + #","config":"perstack.toml""#),
            field: "adapter.config", problem: "expected an absolute path inside the image"),
    BadSpec(name: "perstack model like a flag", json: perstack(validPerstack + #","model":"-x""#),
            field: "adapter.model", problem: "starting with a letter or digit"),
    BadSpec(name: "perstack steps zero", json: perstack(validPerstack + #","maxSteps":0"#),
            field: "adapter.maxSteps", problem: "out of range; expected 1 to 100000"),
    BadSpec(name: "perstack retries negative", json: perstack(validPerstack + #","maxRetries":-1"#),
            field: "adapter.maxRetries", problem: "out of range; expected 0 to 100"),
    BadSpec(name: "perstack model timeout zero", json: perstack(validPerstack + #","modelTimeout":"0s""#),
            field: "adapter.modelTimeout", problem: "out of range; expected 1s to 30d"),

    // Wrong JSON types.
    BadSpec(name: "image number", json: specJSON(image: "5"),
            field: "image", problem: "expected a string"),
    BadSpec(name: "image null", json: specJSON(image: "null"),
            field: "image", problem: "is null; expected a string"),
    BadSpec(name: "command string", json: specJSON(image: #""alpine""#, command: #""echo hi""#),
            field: "command", problem: "expected an array"),
    BadSpec(name: "command number element", json: specJSON(image: #""alpine""#, command: #"["sleep",5]"#),
            field: "command[1]", problem: "expected a string"),
    BadSpec(name: "env array", json: specJSON(#""env":["A=1"]"#),
            field: "env", problem: "expected an object"),
    BadSpec(name: "env number value", json: specJSON(#""env":{"A":1}"#),
            field: "env.A", problem: "expected a string"),
    BadSpec(name: "priority string", json: specJSON(#""priority":"high""#),
            field: "priority", problem: "expected an integer"),
    // JSONDecoder names no field for these, so the spec's integer fields are searched.
    BadSpec(name: "priority fraction", json: specJSON(#""priority":1.5"#),
            field: "priority", problem: "has a fraction; expected a whole number from -1000 to 1000"),
    BadSpec(name: "pids huge", json: specJSON(#""limits":{"pids":1e30}"#),
            field: "limits.pids", problem: "out of range; expected 8 to 1000000"),
    BadSpec(name: "exit code beyond Int32", json: specJSON(#""retry":{"neverRetryExitCodes":[1,4294967296]}"#),
            field: "retry.neverRetryExitCodes[1]", problem: "out of range; expected 0 to 255"),
    BadSpec(name: "Perstack steps fraction", json: perstack(validPerstack + #","maxSteps":2.5"#),
            field: "adapter.maxSteps", problem: "has a fraction; expected a whole number from 1 to 100000"),
    BadSpec(name: "hold string", json: specJSON(#""hold":"yes""#),
            field: "hold", problem: "expected true or false"),
    BadSpec(name: "limits string", json: specJSON(#""limits":"big""#),
            field: "limits", problem: "expected an object"),
    BadSpec(name: "cpus string", json: specJSON(#""limits":{"cpus":"two"}"#),
            field: "limits.cpus", problem: "expected a number"),
    BadSpec(name: "retry array", json: specJSON(#""retry":[]"#),
            field: "retry", problem: "expected an object"),
    BadSpec(name: "labels number value", json: specJSON(#""labels":{"team":7}"#),
            field: "labels.team", problem: "expected a string"),
    BadSpec(name: "spec array", json: "[]",
            field: "spec", problem: "expected an object"),
    BadSpec(name: "spec string", json: #""alpine""#,
            field: "spec", problem: "expected an object"),
    BadSpec(name: "spec truncated", json: #"{"image":"alpine","#,
            field: "spec", problem: "is not valid JSON"),
    BadSpec(name: "spec empty", json: "",
            field: "spec", problem: "is empty; expected a JSON object"),
    BadSpec(name: "trailing comma", json: #"{"image":"alpine","command":["true"],}"#,
            field: "spec", problem: "is not valid JSON at column 37: a comma before '}', which JSON does not allow; remove it"),
    BadSpec(name: "single-quoted key", json: #"{'image':"alpine","command":["true"]}"#,
            field: "spec", problem: "at column 2: a key in single quotes; JSON keys take double quotes"),
    BadSpec(name: "missing comma", json: #"{"image":"alpine" "command":["true"]}"#,
            field: "spec", problem: "is not valid JSON at column 19: expected ',' or '}', found '\"'"),
    BadSpec(name: "unquoted word", json: "{\n  \"image\": alpine,\n  \"command\": [\"true\"]\n}",
            field: "spec", problem: "is not valid JSON at line 2, column 12: expected a value, found 'a'; quote strings"),
    BadSpec(name: "JSON5 comment", json: #"{"image":"alpine","command":["true"] /* note */}"#,
            field: "spec", problem: "is not valid JSON at column 38: a comment, which JSON does not allow; remove it"),
    BadSpec(name: "comment line", json: "// a job",
            field: "spec", problem: "is not valid JSON at column 1: a comment"),
    BadSpec(name: "single quotes", json: #"{"image":'alpine',"command":["true"]}"#,
            field: "spec", problem: "at column 10: a string in single quotes; JSON strings take double quotes"),
    BadSpec(name: "unquoted key", json: #"{image:"alpine","command":["true"]}"#,
            field: "spec", problem: "at column 2: expected a key in double quotes, found 'i'"),
    BadSpec(name: "missing value", json: #"{"image":"alpine","command":"#,
            field: "spec", problem: "at column 29: expected a value, found the end of the spec"),
    BadSpec(name: "repeated key", json: #"{"image":"alpine","command":["true"],"image":"busybox"}"#,
            field: "image", problem: "appears twice in one object, again at column 38; give each key once"),
    BadSpec(name: "repeated nested key", json: #"{"image":"alpine","command":["true"],"limits":{"cpus":1,"cpus":2}}"#,
            field: "limits.cpus", problem: "appears twice in one object"),
    BadSpec(name: "unknown escape", json: #"{"image":"alpine","command":["a\q"]}"#,
            field: "spec", problem: "for an escape other than"),
    BadSpec(name: "number beyond a double", json: specJSON(#""priority":1e400"#),
            field: "spec", problem: "is not valid JSON; look for a number beyond the range of a 64-bit float"),
    BadSpec(name: "hash comment", json: "# a job",
            field: "spec", problem: "at column 1: expected a value, found '#'"),
    BadSpec(name: "cut short", json: #"{"image":"alpine","command":["#,
            field: "spec", problem: "at column 29: '[' is never closed"),
]

struct JobSpecValidationTests {
    @Test(arguments: [
        (specJSON(#""limits":{"timeout":30}"#), #"invalid limits.timeout: is the number 30; expected a duration string with a unit (ms, s, m, h, d), such as "30s""#),
        (specJSON(#""limits":{"memory":512}"#), #"invalid limits.memory "512": out of range; expected 6m to 1t (a number, or a size without a unit, counts bytes)"#),
        (specJSON(#""limits":{"cpus":0}"#), #"invalid limits.cpus 0: out of range; expected 0.01 to 1024"#),
        (#"{"image":"alpine:3.20","command":[true]}"#, #"invalid command[0]: is true; expected a string"#),
        (#"{"image":["alpine"],"command":["true"]}"#, #"invalid image: is an array; expected a string"#),
    ])
    func messageShowsTheValueAsWritten(json: String, message: String) {
        let error = #expect(throws: SpecError.self) {
            try decodeSpec(json)
        }
        #expect(error?.description == message)
    }

    @Test(arguments: badSpecs)
    func rejects(bad: BadSpec) {
        let error = #expect(throws: SpecError.self) {
            try decodeSpec(bad.json)
        }

        #expect(error?.field == bad.field)
        #expect(error?.problem.contains(bad.problem) == true, "problem: \(error?.problem ?? "none")")
        #expect(error?.description.contains(bad.field) == true, "description: \(error?.description ?? "none")")
    }

    @Test(arguments: badSpecs)
    func messageIsPrintable(bad: BadSpec) {
        let error = #expect(throws: SpecError.self) {
            try decodeSpec(bad.json)
        }
        let description = error?.description ?? ""

        #expect(description.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value != 0x7f })
        #expect(description.utf8.count < 1000)
    }

    @Test func rejectedValueQuoted() {
        let error = #expect(throws: SpecError.self) {
            try decodeSpec(specJSON(#""limits":{"memory":"1m"}"#))
        }

        #expect(error?.value == "\"1m\"")
        #expect(error?.description == "invalid limits.memory \"1m\": out of range; expected 6m to 1t")
    }

    @Test func rejectedNULShownEscaped() {
        let error = #expect(throws: SpecError.self) {
            try decodeSpec(specJSON(#""env":{"TOKEN":"ab\u0000cd"}"#))
        }

        #expect(error?.value == #""ab\0cd""#)
    }

    @Test func rejectedValueShortened() {
        let error = SpecError(field: "command[1]", value: String(repeating: "x", count: 500), problem: "is bad")

        #expect(error.value == "\"" + String(repeating: "x", count: 80) + "…\"")
    }

    @Test func missingFieldHasNoValue() {
        let error = #expect(throws: SpecError.self) {
            try decodeSpec(#"{"image":"alpine"}"#)
        }

        #expect(error?.value == nil)
        #expect(error?.description == "invalid command: is missing")
    }

    /// Every invalid field, array element and map entry is reported in one
    /// run, in field order.
    @Test func everyProblemReported() {
        let json = specJSON(
            image: #""Alpine""#,
            command: #"["echo","hi"],"env":{"2A":"b","BERTH_X":"y"},"priority":5000,"limits":{"memory":"1k","cpus":0},"#
                + #""retry":{"maxAttempts":0,"jitter":2,"neverRetryExitCodes":[300,1,-1]},"labels":{"-bad":"v"}"#)
        let error = #expect(throws: SpecError.self) {
            try decodeSpec(json)
        }

        let fields = error?.allProblems.map(\.field)
        #expect(fields == [
            "image", "env", "env", "priority", "limits.memory", "limits.cpus", "retry.maxAttempts", "retry.jitter",
            "retry.neverRetryExitCodes[0]", "retry.neverRetryExitCodes[2]", "labels",
        ])
        #expect(error?.field == "image")
        #expect(error?.additionalProblems.count == 10)
        #expect(error?.allProblems.allSatisfy(\.additionalProblems.isEmpty) == true)
        #expect(error?.description.hasPrefix(#"invalid image "Alpine": "#) == true)
        #expect(error?.description.hasSuffix(#"; invalid labels "-bad": expected 1 to 63 letters, digits, '.', '_', '/' or '-', starting with a letter or digit"#) == true)
    }

    @Test func validSpecHasNoProblems() throws {
        let spec = try decodeSpec(specJSON(#""limits":{"memory":"1g"}"#))

        #expect(spec.problems().isEmpty)
    }

    @Test func oversizeSpec() {
        let padding = String(repeating: "x", count: JobSpec.maximumEncodedSize)
        let json = specJSON(#""labels":{"note":""# + padding + #""}"#)
        let error = #expect(throws: SpecError.self) {
            try decodeSpec(json)
        }

        #expect(error?.field == "spec")
        #expect(error?.problem.contains("is \(json.utf8.count) bytes; the maximum is 262144 bytes") == true)
    }

    @Test func oversizeCheckedBeforeParsing() {
        let notJSON = String(repeating: "{", count: JobSpec.maximumEncodedSize + 1)
        let error = #expect(throws: SpecError.self) {
            try decodeSpec(notJSON)
        }

        #expect(error?.problem.contains("the maximum is 262144 bytes") == true)
    }

    @Test func sizeAtLimitAccepted() throws {
        let empty = specJSON(#""labels":{"note":""}"#)
        let padding = String(repeating: " ", count: JobSpec.maximumEncodedSize - empty.utf8.count)

        #expect(throws: Never.self) { try decodeSpec(empty + padding) }
    }

    @Test func boundsAccepted() throws {
        let json = specJSON(
            #""priority":-1000,"limits":{"memory":"6m","cpus":0.01,"pids":8,"timeout":"30d","workspaceDisk":"16t","maxOutputBytes":"1k"},"#
                + #""retry":{"maxAttempts":100,"initialDelay":"0s","maxDelay":"30d","multiplier":100,"jitter":0,"neverRetryExitCodes":[0,255]}"#)

        #expect(throws: Never.self) { try decodeSpec(json) }
    }

    @Test func envNameWithUnderscoreAccepted() throws {
        let spec = try decodeSpec(specJSON(#""env":{"_PRIVATE":"1","berth_lower":"2"}"#))

        #expect(spec.env == ["_PRIVATE": "1", "berth_lower": "2"])
    }

    @Test func validateProgrammaticSpec() {
        let spec = JobSpec(image: "-v", command: ["true"])
        let error = #expect(throws: SpecError.self) {
            try spec.validate()
        }

        #expect(error?.field == "image")
    }
}
