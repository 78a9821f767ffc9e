import UltraGateJSON
import UltraGateSupport
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `ultragate bench`: runs the client once per model asked for (`--model` repeated: in turn)
/// and prints the report, side by side for several models. Exit 0 when every model had a
/// request succeed, 1 when one had none, 2 when a run could not start.
public enum BenchCommand {
    public static func run(_ options: BenchOptions) -> Int32 {
        var reports: [BenchReport] = []
        for model in options.models {
            var run = options
            run.model = model
            let client: BenchClient
            do { client = try BenchClient.make(run) } catch {
                FileHandle.standardError.write(Data("ultragate bench: \(error.message)\n".utf8))
                return 2
            }
            if options.models.count > 1 && options.progress && isatty(2) != 0 {
                FileHandle.standardError.write(Data("ultragate bench: \(model)\n".utf8))
            }
            reports.append(client.run(showProgress: options.progress && isatty(2) != 0))
        }
        if reports.count == 1 {
            print(options.json ? reports[0].json().serializedString : reports[0].table())
        } else {
            let comparison = BenchComparison(reports: reports)
            print(options.json ? comparison.json().serializedString : comparison.table())
        }
        return reports.allSatisfy { $0.succeeded > 0 } ? 0 : 1
    }
}
