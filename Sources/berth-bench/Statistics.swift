/// Repeated measurements of one quantity, summarised as min, median and max.
struct Samples {
    var values: [Double] = []

    mutating func append(_ value: Double) {
        values.append(value)
    }

    var min: Double { values.min() ?? .nan }
    var max: Double { values.max() ?? .nan }

    var median: Double {
        percentile(50)
    }

    /// The nearest-rank percentile, such as 99 for the 99th.
    func percentile(_ percent: Double) -> Double {
        guard !values.isEmpty else { return .nan }
        let sorted = values.sorted()
        if percent == 50, sorted.count % 2 == 0 {
            return (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        }
        let rank = Int((percent / 100 * Double(sorted.count)).rounded(.up))
        return sorted[Swift.max(0, Swift.min(sorted.count - 1, rank - 1))]
    }
}

/// Formats a number with a precision that suits its size: `1234567`, `12.3`, `0.123`.
func format(_ value: Double) -> String {
    guard value.isFinite else { return "n/a" }
    let magnitude = abs(value)
    if magnitude >= 1000 { return String(Int(value.rounded())) }
    if magnitude >= 100 { return String(format: "%.0f", value) }
    if magnitude >= 10 { return String(format: "%.1f", value) }
    if magnitude >= 1 { return String(format: "%.2f", value) }
    return String(format: "%.3f", value)
}

import Foundation
