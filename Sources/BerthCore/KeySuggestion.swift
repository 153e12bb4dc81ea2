/// Finds the valid key that an unknown key was probably meant to be.
public enum KeySuggestion {
    /// Returns the valid key closest to `unknown`: one that differs only in
    /// letter case, else one within an edit distance of 2 (1 for keys of four
    /// characters or fewer, so short keys do not match unrelated ones).
    /// A swap of two neighbouring characters counts as one edit. Returns nil
    /// when no key is that close; of equally close keys, the first in sorted order.
    public static func closest(to unknown: String, among validKeys: [String]) -> String? {
        let sortedKeys = validKeys.sorted()
        if let sameLetters = sortedKeys.first(where: { $0.lowercased() == unknown.lowercased() }) {
            return sameLetters
        }

        var best: (key: String, distance: Int)? = nil
        for key in sortedKeys {
            let limit = key.count <= 4 ? 1 : 2
            let distance = editDistance(Array(unknown.lowercased()), Array(key.lowercased()))
            guard distance <= limit else { continue }
            if best == nil || distance < best!.distance {
                best = (key, distance)
            }
        }
        return best?.key
    }

    /// Optimal string alignment distance: insertions, deletions, substitutions
    /// and transpositions of adjacent characters, each costing 1.
    static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }

        // distances[i][j] is the distance between the first i characters of a and the first j of b.
        var distances = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { distances[i][0] = i }
        for j in 0...b.count { distances[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let substitution = a[i - 1] == b[j - 1] ? 0 : 1
                var distance = min(
                    distances[i - 1][j] + 1,
                    distances[i][j - 1] + 1,
                    distances[i - 1][j - 1] + substitution)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    distance = min(distance, distances[i - 2][j - 2] + 1)
                }
                distances[i][j] = distance
            }
        }
        return distances[a.count][b.count]
    }
}
