import UltraGateJSON
import UltraGateSupport
import Foundation

/// A run that could not start (unknown host, unreadable prompts): the CLI exits with 2.
public struct BenchSetupError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Runs `ultragate bench`: a warm-up pass, then the measured pass, on `options.threads` epoll
/// threads sharing `options.concurrency` keep-alive connections, and returns the report. The
/// warm-up pass is always closed-loop; with `--rate` the measured pass is open-loop, its schedule
/// starting when the warm-up has finished.
public struct BenchClient: Sendable {
    public let options: BenchOptions
    package let prompts: PromptSource
    package let address: BenchAddress

    /// `promptLines` are the JSONL lines of the prompts file; nil for generated prompts.
    public init(options: BenchOptions, promptLines: [String]? = nil) throws(BenchSetupError) {
        self.options = options
        do { prompts = try PromptSource(lines: promptLines, options: options) } catch { throw BenchSetupError(error.message) }
        guard let address = BenchAddress.resolve(host: options.target.host, port: options.target.port) else {
            throw BenchSetupError("cannot resolve host `\(options.target.host)`")
        }
        self.address = address
    }

    /// Reads the prompts file named in `options` (if any) and builds the client.
    public static func make(_ options: BenchOptions) throws(BenchSetupError) -> BenchClient {
        guard let path = options.promptsFile else { return try BenchClient(options: options) }
        guard let data = FileManager.default.contents(atPath: path) else { throw BenchSetupError("cannot read prompts file \(path)") }
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        return try BenchClient(options: options, promptLines: lines)
    }

    public func run(showProgress: Bool = false) -> BenchReport {
        if options.warmup > 0 {
            _ = pass(requests: options.warmup, duration: nil, rate: nil, sequenceBase: 0, progress: nil, start: Clock.nanos())
        }
        let progress = showProgress ? BenchProgress() : nil
        let started = Clock.nanos()
        let line = progress.map { ProgressLine(progress: $0, started: started, total: options.requests) }
        line?.start()
        let tally = pass(requests: options.requests, duration: options.duration, rate: options.rate, sequenceBase: options.warmup,
                         progress: progress, start: started)
        line?.stop()
        let end = options.duration != nil ? max(tally.lastEnd, started + UInt64(options.duration! * 1e9)) : max(tally.lastEnd, started + 1)
        return BenchReport(options: options, tally: tally, elapsedSeconds: Double(end - started) / 1e9)
    }

    private func pass(requests: Int?, duration: Double?, rate: Double?, sequenceBase: Int, progress: BenchProgress?, start: UInt64) -> BenchTally {
        let threads = max(1, min(options.threads, options.concurrency, requests ?? .max))
        let deadline = duration.map { start + UInt64($0 * 1e9) }
        let workers = (0..<threads).map { t -> BenchWorker in
            let share = { (n: Int) in n / threads + (t < n % threads ? 1 : 0) }
            let plan = BenchWorker.Plan(connections: share(options.concurrency), quota: requests.map(share),
                                        deadline: deadline, sequenceBase: sequenceBase, sequenceStride: threads,
                                        sequenceOffset: t, timeoutNanos: UInt64(options.timeout * 1e9),
                                        rate: rate, scheduleStart: start)
            return BenchWorker(plan: plan, address: address, prompts: prompts, progress: progress)
        }
        let group = DispatchGroup()
        for w in workers {
            group.enter()
            let thread = Thread {
                w.run()
                group.leave()
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        group.wait()
        var tally = BenchTally()
        for w in workers { tally.merge(w.tally) }
        return tally
    }
}

/// The live `\r`-rewritten status line on stderr, redrawn twice a second on its own thread.
package final class ProgressLine: @unchecked Sendable {
    private let progress: BenchProgress
    private let started: UInt64
    private let total: Int?
    private let done = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)

    package init(progress: BenchProgress, started: UInt64, total: Int?) {
        self.progress = progress
        self.started = started
        self.total = total
    }

    package func start() {
        Thread {
            while self.done.wait(timeout: .now() + 0.5) == .timedOut { self.draw() }
            FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
            self.finished.signal()
        }.start()
    }

    package func stop() {
        done.signal()
        finished.wait()
    }

    private func draw() {
        let (ok, errors) = progress.totals
        let seconds = Double(Clock.nanos() - started) / 1e9
        let of = total.map { " / \($0)" } ?? ""
        let rate = seconds > 0 ? Double(ok + errors) / seconds : 0
        let text = "\r\u{1B}[K  \(ok + errors)\(of) requests, \(errors) errors, \(BenchReport.format(rate, digits: 0)) req/s, \(BenchReport.format(seconds, digits: 1)) s"
        FileHandle.standardError.write(Data(text.utf8))
    }
}
