import Glibc

extension String {
    /// Tests whether the UTF-8 bytes of `needle` occur in this string's UTF-8 bytes.
    ///
    /// A plain byte search with no Unicode equivalence, so it may find a match
    /// where `contains` would not, such as a needle followed by a combining
    /// mark. Trackers use it only to pick the lines worth parsing. It runs on
    /// every line a job prints, where Foundation's `contains` took about a
    /// tenth of the reader thread's time.
    func containsUTF8(_ needle: StaticString) -> Bool {
        let length = needle.utf8CodeUnitCount
        guard length > 0 else { return true }
        let found = utf8.withContiguousStorageIfAvailable { haystack -> Bool in
            guard let base = haystack.baseAddress, haystack.count >= length else { return false }

            // memchr finds each candidate first byte, memcmp checks the rest.
            // Glibc's memmem would do both, but Swift's Glibc module leaves it out.
            let end = base + (haystack.count - length + 1)
            var start = base
            while start < end, let hit = memchr(start, Int32(needle.utf8Start.pointee), end - start) {
                let candidate = UnsafePointer(hit.assumingMemoryBound(to: UInt8.self))
                if memcmp(candidate, needle.utf8Start, length) == 0 { return true }
                start = candidate + 1
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
