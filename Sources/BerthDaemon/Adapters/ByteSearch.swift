import Glibc

extension String {
    /// Whether the UTF-8 bytes of `needle` occur in this string's UTF-8 bytes.
    ///
    /// A plain byte search with no Unicode equivalence, so it may find a match
    /// where `contains` would not, such as a needle followed by a combining
    /// mark. Trackers use it only to pick the lines worth parsing. It runs on
    /// every line a job prints, where Foundation's `contains` took about a
    /// tenth of the reader thread's time.
    func containsUTF8(_ needle: StaticString) -> Bool {
        let pattern = UnsafeBufferPointer(start: needle.utf8Start, count: needle.utf8CodeUnitCount)
        guard let first = pattern.first else { return true }
        let found = utf8.withContiguousStorageIfAvailable { haystack -> Bool in
            guard haystack.count >= pattern.count else { return false }
            var index = 0
            let last = haystack.count - pattern.count
            while index <= last {
                if haystack[index] == first, memcmp(haystack.baseAddress! + index, pattern.baseAddress!, pattern.count) == 0 {
                    return true
                }
                index += 1
            }
            return false
        }
        if let found { return found }

        // A string that is not stored as contiguous UTF-8, such as a bridged one.
        var copy = self
        copy.makeContiguousUTF8()
        return copy.containsUTF8(needle)
    }
}
