import BerthCore
import Foundation

/// Builds the JSON of a spec with a valid image and command, followed by `fields`.
func specJSON(_ fields: String = "") -> String {
    let base = #"{"image":"alpine:3.20","command":["echo","hi"]"#
    return fields.isEmpty ? base + "}" : base + "," + fields + "}"
}

/// Decodes `json` with `JobSpec.decode(json:)`.
func decodeSpec(_ json: String) throws(SpecError) -> JobSpec {
    try JobSpec.decode(json: Data(json.utf8))
}
