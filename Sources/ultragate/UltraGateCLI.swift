import UltraGateProviders
import UltraGate
import UltraGateBench
import UltraGateJSON
import UltraGateCache
import UltraGateHTTP
import UltraGateSupport
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Runs a parsed command line. Returns the process exit code.
public enum UltraGateCLI {
    public static func main(_ arguments: [String]) -> Int32 {
        // First, before any thread exists: a stop signal from now on is kept for `serve` (see
        // `StopSignals`), never lost nor fatal during start-up.
        StopSignals.block()
        signal(SIGPIPE, SIG_IGN)
        // Past a file-size limit (RLIMIT_FSIZE) a write fails with EFBIG, which the cache handles;
        // the default action of this signal would kill the gateway instead.
        signal(SIGXFSZ, SIG_IGN)
        let command: CLICommand
        do { command = try CommandLineParser.parse(arguments) } catch {
            printError("ultragate: \(error.message)")
            return 2
        }
        if case .serve = command {} else { StopSignals.unblock() }  // parsing made no thread
        switch command {
        case .help:
            print(CommandLineParser.usage)
            return 0
        case .version:
            print("ultragate \(UltraGateVersion.string)")
            return 0
        case .serve(let options):
            return serve(options)
        case .cacheStats(let dir, let configPath):
            return withCache(dir: dir, configPath: configPath) { cache in
                let s = cache.stats()
                print("directory: \(cache.config.directory)")
                print("entries:   \(s.entries)")
                print("embedding items: \(s.embeddingItems)")
                print("used:      \(s.usedBytes) bytes of \(s.mapSize)")
                return 0
            }
        case .cacheClear(let dir, let configPath):
            return withCache(dir: dir, configPath: configPath) { cache in
                do {
                    let before = cache.stats().entries
                    try cache.clear()
                    print("cleared \(before) entries from \(cache.config.directory)")
                    return 0
                } catch {
                    printError("ultragate: cannot clear the cache: \(error)")
                    return 1
                }
            }
        case .check(let configPath, let mock):
            return check(configPath: configPath, mock: mock)
        case .keys(let command):
            return KeysCommandRunner.run(command)
        case .bench(let options):
            return BenchCommand.run(options)
        case .benchHelp:
            print(BenchOptions.usage)
            return 0
        }
    }

    static func printError(_ message: String) {
        FileHandle.standardError.write((message + "\n").data(using: .utf8)!)
    }

    static func loadConfig(_ path: String?) -> GatewayConfig? {
        do { return try ConfigLoader().load(path: path) } catch {
            printError("ultragate: \(error)")
            return nil
        }
    }

    /// Each client connection and each upstream connection is a descriptor: raise the soft limit
    /// to the hard one, as nginx (`worker_rlimit_nofile`) and Go's runtime do.
    static func raiseDescriptorLimit() {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }

    static func serve(_ options: ServeOptions) -> Int32 {
        raiseDescriptorLimit()
        guard var config = loadConfig(options.config) else { return 2 }
        if let host = options.host { config.server.host = host }
        if let port = options.port { config.server.port = port }
        if let threads = options.threads { config.server.threads = threads }
        if let dir = options.cacheDir { config.cache.directory = dir }
        if options.mock { config.forceMock = true }
        if options.noCache { config.cache.enabled = false }
        if options.allowUnauthenticated { config.auth.allowUnauthenticated = true }
        if let refusal = ExposureCheck.refusal(host: config.server.host, auth: config.auth) {
            printError("ultragate: \(refusal)")
            return 2
        }
        if let warning = ExposureCheck.warning(host: config.server.host, auth: config.auth) { printError("ultragate: \(warning)") }

        var builder = GatewayBuilder(config: config)
        let gateway: Gateway
        do {
            let router = try builder.makeRouter()
            let cache = try builder.makeCache()
            var accessLog: AccessLog?
            if let destination = config.accessLog {
                accessLog = try AccessLog(destination: destination == "stderr" ? .standardError : .file(path: destination))
            }
            gateway = Gateway(config: config, router: router, cache: cache, accessLog: accessLog, keyStore: try builder.makeKeyStore())
        } catch let error as ConfigError {
            printError("ultragate: \(error)")
            return 2
        } catch {
            printError("ultragate: \(error)")
            return 1
        }
        for note in builder.notes { printError("ultragate: \(note)") }
        let server = HTTPServer(config: config.server, handler: gateway)
        let metrics = gateway.metrics
        server.onConnectionCountChange = { delta in delta > 0 ? metrics.connectionOpened() : metrics.connectionClosed() }
        do { try server.start() } catch {
            printError("ultragate: \(error)")
            return 1
        }
        let cacheNote = gateway.cache.map { "cache in \($0.config.directory)" } ?? "cache disabled"
        // An IPv6 literal goes in brackets (RFC 3986 §3.2.2), so the line holds a URL that works.
        let host = config.server.host.contains(":") ? "[\(config.server.host)]" : config.server.host
        printError("ultragate \(UltraGateVersion.string) listening on http://\(host):\(server.boundPort) (\(config.server.threads) threads, \(cacheNote))")

        // A stop signal that came during start-up is pending: this returns at once.
        _ = StopSignals.wait()
        printError("ultragate: shutting down (finishing requests in flight)")
        gateway.beginShutdown()
        server.shutdown()
        gateway.accessLog?.close()
        gateway.keyStore?.close()  // writes the spend not yet written
        gateway.responseStore.close()  // commits the stored responses not yet written
        gateway.cache?.close()
        return 0
    }

    /// Runs `body` on the cache that exists in the directory (exit 1 when there is none).
    static func withCache(dir: String?, configPath: String?, _ body: (ResponseCache) -> Int32) -> Int32 {
        guard var config = loadConfig(configPath) else { return 2 }
        if let dir { config.cache.directory = dir }
        do {
            let cache = try GatewayBuilder(config: config).openExistingCache()
            defer { cache.close() }
            return body(cache)
        } catch {
            printError("ultragate: \(error)")
            return 1
        }
    }

    static func check(configPath: String?, mock: Bool) -> Int32 {
        guard var config = loadConfig(configPath) else { return 2 }
        if mock { config.forceMock = true }
        var builder = GatewayBuilder(config: config)
        let router: ModelRouter
        do { router = try builder.makeRouter() } catch {
            printError("ultragate: \(error)")
            return 1
        }
        let results = LockedResults()
        let done = DispatchSemaphore(value: 0)
        Task.detached {
            results.set(await ModelHealthCheck(router: router).run())
            done.signal()
        }
        done.wait()
        let all = results.get()
        print(ModelHealthCheck.table(all))
        return all.allSatisfy(\.available) && !all.isEmpty ? 0 : 1
    }
}

/// Hands the check's results from its task to the waiting main thread.
private final class LockedResults: @unchecked Sendable {
    private let lock = NSLock()
    private var results: [ModelCheckResult] = []
    func set(_ r: [ModelCheckResult]) { lock.withLock { results = r } }
    func get() -> [ModelCheckResult] { lock.withLock { results } }
}
