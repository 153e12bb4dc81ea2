import Foundation

/// One figure measured beside its reference: one pair of samples per
/// repetition, their ratio, and the target the figure is held to.
struct Comparison {
    let figure: String
    let unit: String
    let productLabel: String
    let referenceLabel: String
    var product = Samples()
    var reference = Samples()
    /// Product divided by reference, pair by pair.
    var ratios = Samples()

    init(figure: String, unit: String, product productLabel: String, reference referenceLabel: String) {
        self.figure = figure
        self.unit = unit
        self.productLabel = productLabel
        self.referenceLabel = referenceLabel
    }

    /// Records one repetition and prints it.
    mutating func record(product productValue: Double, reference referenceValue: Double) {
        product.append(productValue)
        reference.append(referenceValue)
        ratios.append(productValue / referenceValue)
        print("  repetition \(product.values.count): \(productLabel) \(format(productValue)) \(unit), "
            + "\(referenceLabel) \(format(referenceValue)) \(unit), ratio \(format(productValue / referenceValue))")
    }

    /// False in a `--quick` run, whose sizes are too small to judge a target.
    /// Set once in main before any figure runs.
    nonisolated(unsafe) static var judgesTargets = true

    /// Prints the result line: medians, extremes, ratio and whether `met` holds for the target.
    func report(target: String, met: Bool?, extra: String? = nil) {
        var line = "result \(figure): \(productLabel) median \(format(product.median)) \(unit) "
            + "(min \(format(product.min)), max \(format(product.max)))"
        line += " | \(referenceLabel) median \(format(reference.median)) \(unit) "
            + "(min \(format(reference.min)), max \(format(reference.max)))"
        line += " | ratio median \(format(ratios.median)) (min \(format(ratios.min)), max \(format(ratios.max)))"
        if let extra {
            line += " | \(extra)"
        }
        let verdict = if !Self.judgesTargets, met != nil {
            "not judged at --quick sizes"
        } else {
            met.map { $0 ? "met" : "missed" } ?? "reported"
        }
        line += " | target \(target): \(verdict)"
        print(line)
        flushOutput()
    }
}
