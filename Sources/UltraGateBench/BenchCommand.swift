import UltraGateJSON
import UltraGateSupport
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `ultragate bench`: runs the client and prints the report. Exit 0 when any request succeeded,
/// 1 when none did, 2 when the run could not start.
public enum BenchCommand {
    public static func run(_ options: BenchOptions) -> Int32 {
        let client: BenchClient
        do { client = try BenchClient.make(options) } catch {
            FileHandle.standardError.write(Data("ultragate bench: \(error.message)\n".utf8))
            return 2
        }
        let report = client.run(showProgress: options.progress && isatty(2) != 0)
        print(options.json ? report.json().serializedString : report.table())
        return report.succeeded > 0 ? 0 : 1
    }
}
