import Foundation
import Testing
@testable import PipetopCore

@Suite struct ReadmeTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func theReadmeExampleIsTheCompiledOne() throws {
        let source = try String(contentsOf: Self.root.appendingPathComponent("Tests/PipetopCoreTests/ReadmeExample.swift"), encoding: .utf8)
        let readme = try String(contentsOf: Self.root.appendingPathComponent("README.md"), encoding: .utf8)
        let lines = source.components(separatedBy: "\n")
        let begin = try #require(lines.firstIndex { $0.contains("README-EXAMPLE-BEGIN") })
        let end = try #require(lines.firstIndex { $0.contains("README-EXAMPLE-END") })
        let example = lines[(begin + 1)..<end].map { $0.hasPrefix("    ") ? String($0.dropFirst(4)) : $0 }.joined(separator: "\n")
        #expect(readme.contains(example), "README.md must show the example exactly as ReadmeExample.swift compiles it")
    }

    @Test func theReadmeExampleRuns() throws {
        let db = try TestStore()
        let runtime = try readmeExample(storePath: db.directory.appendingPathComponent("orders.sqlite").path)
        let store = runtime.store
        #expect(try eventually { try store.queueStats(now: .now()).first { $0.name == "emails" }?.succeeded == 1 })
        runtime.stop()
    }
}
