import Foundation
import Testing
@testable import UltraGateCache

struct CacheDirectoryTests {
    /// `--cache-dir c` once trapped in Foundation's `deletingLastPathComponent`.
    @Test func parentsOfDirectoryPaths() {
        #expect(CacheEnvironment.parentDirectory(of: "c") == "")
        #expect(CacheEnvironment.parentDirectory(of: "cache") == "")
        #expect(CacheEnvironment.parentDirectory(of: "c/") == "")
        #expect(CacheEnvironment.parentDirectory(of: "./c") == ".")
        #expect(CacheEnvironment.parentDirectory(of: "a/b") == "a")
        #expect(CacheEnvironment.parentDirectory(of: "a//b/") == "a")
        #expect(CacheEnvironment.parentDirectory(of: "/c") == "")
        #expect(CacheEnvironment.parentDirectory(of: "/var/lib/ultragate") == "/var/lib")
        #expect(CacheEnvironment.parentDirectory(of: "/") == "")
    }

    @Test func aOneLetterRelativeDirectoryIsMade() throws {
        let base = NSTemporaryDirectory() + "ultragate-dir-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: base) }
        try CacheEnvironment.makeDirectory(base + "/x")
        try CacheEnvironment.makeDirectory(base + "/p/q/r")
        var isDirectory: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: base + "/p/q/r", isDirectory: &isDirectory) && isDirectory.boolValue)
    }
}
