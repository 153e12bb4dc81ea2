import BerthTestSupport
import Foundation
import Testing

@Suite("Checkpoint list")
struct CheckpointListTests {
    /// Returns the table row of the checkpoint named `name`.
    static func row(named name: String, in result: CommandResult) -> String? {
        result.lines.first { $0.split(separator: " ", omittingEmptySubsequences: true).dropFirst(4).first == Substring(name) }
    }

    @Test("detail of invalid and refused")
    func invalidAndRefusedDetail() throws {
        let sandbox = try Sandbox()
        let id = try sandbox.submit()
        // Rows as the daemon's capture stores them: a stored file whose JSON
        // did not parse, the same from a berth that kept no reason, a refused
        // symbolic link, and a valid file.
        try sandbox.sqlite(
            """
            INSERT INTO checkpoints (job_id, attempt, name, sha256, size, stored_path, valid, invalid_reason, captured_at)
                VALUES (\(id), 1, 'cut.json', 'cccc', 9, '/store/cccc', 0,
                        'is not valid JSON at column 10: the string is never closed', 1);
            INSERT INTO checkpoints (job_id, attempt, name, sha256, size, stored_path, valid, captured_at)
                VALUES (\(id), 1, 'torn.json', 'aaaa', 7, '/store/aaaa', 0, 1);
            INSERT INTO checkpoints (job_id, attempt, name, size, valid, refused_reason, captured_at)
                VALUES (\(id), 1, 'link.json', NULL, 0, 'is a symbolic link, which capture never follows', 1);
            INSERT INTO checkpoints (job_id, attempt, name, sha256, size, stored_path, valid, captured_at)
                VALUES (\(id), 1, 'good.json', 'bbbb', 2, '/store/bbbb', 1, 1);
            """)

        let result = try sandbox.run(["checkpoints", "\(id)"])
        let cut = Self.row(named: "cut.json", in: result)
        let torn = Self.row(named: "torn.json", in: result)
        let link = Self.row(named: "link.json", in: result)
        let good = Self.row(named: "good.json", in: result)

        #expect(result.status == 0)
        #expect(cut?.hasSuffix("content is not valid JSON at column 10: the string is never closed") == true, "\(result)")
        #expect(torn?.contains("invalid") == true, "\(result)")
        #expect(torn?.hasSuffix("content check failed: a .json file must parse as JSON") == true, "\(result)")
        #expect(link?.contains("refused") == true, "\(result)")
        #expect(link?.hasSuffix("is a symbolic link, which capture never follows") == true, "\(result)")
        #expect(good?.trimmingCharacters(in: .whitespaces).hasSuffix(" valid") == true, "\(result)")

        let resumeFromRefused = try sandbox.run(["resume", "\(id)", "--from", "link.json"])
        #expect(resumeFromRefused.status == 1)
        #expect(resumeFromRefused.standardError.contains(
            "cannot resume from checkpoint link.json: capture refused it: is a symbolic link, which capture never follows"), "\(resumeFromRefused)")
    }
}
