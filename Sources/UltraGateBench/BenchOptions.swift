import UltraGateJSON
import UltraGateSupport
#if canImport(Glibc)
import Glibc
#endif

/// What `ultragate bench` was asked to do. Parsing is pure (no environment reads beyond the
/// `environment` argument) so it can be tested.
public struct BenchOptions: Equatable, Sendable {
    public enum Mode: String, Sendable { case hit, miss }
    /// The API asked: OpenAI chat completions, or Anthropic's Messages.
    public enum API: String, Sendable { case chat, messages }

    public var target: BenchTarget
    /// The model this run asks for: one of `models`.
    public var model = "mock-gpt"
    /// Every model asked for (`--model` repeated): `ultragate bench` runs them in turn.
    public var models = ["mock-gpt"]
    public var concurrency = 8
    /// Exactly one of `requests` and `duration` is set; neither given means 1,000 requests.
    public var requests: Int? = 1000
    public var duration: Double?
    /// Open loop: requests per second offered on a fixed schedule, whatever the answers do
    /// (latency counts from each request's due time). nil: closed loop, each connection sends
    /// its next request when the previous answer arrives.
    public var rate: Double?
    public var promptsFile: String?
    public var stream = false
    public var mode = Mode.hit
    public var api = API.chat
    public var apiKey: String?
    public var json = false
    public var warmup = 0
    public var maxTokens: Int?
    public var threads = 1
    /// Seconds a request may take before it counts as a `timeout` error.
    public var timeout: Double = 30
    /// Whether to draw the live progress line (only when stderr is a terminal).
    public var progress = true
    /// Embeddings requests of this many items each (`--embeddings N`, to `/v1/embeddings`)
    /// instead of chat completions.
    public var embeddingItems: Int?
    /// Of those items, how many are new in every request (`--fresh K`); the others repeat in every
    /// request. nil: all of them in miss mode, none in hit mode.
    public var freshItems: Int?
    /// `encoding_format` of embeddings requests: `base64` (the official SDK's default) or `float`.
    public var encodingFormat = "base64"

    public init(target: BenchTarget) { self.target = target }

    public static let usage = """
        USAGE: ultragate bench --url URL [options]

        Load-generates chat completions against any OpenAI-compatible endpoint (or Anthropic
        Messages against any Messages endpoint, with --api messages) and reports
        throughput, latency percentiles, TTFT and inter-token latency (--stream), tokens/s,
        errors by kind and the X-Cache hit ratio.

          --url URL            http://host:port/v1 (chat/completions is appended) or the full URL
          --api chat|messages  chat: POST …/chat/completions (default); messages: POST …/messages
                               in Anthropic's shape (system prompt in `system`, max_tokens 256
                               unless --max-tokens, `anthropic-version`, the key as x-api-key)
          --model NAME         model to ask for (default mock-gpt); repeat it to run each model in
                               turn and compare them side by side
          --concurrency N, -c  connections kept busy at once (default 8)
          --requests N, -n     stop after N requests (default 1000)
          --duration S, -d     or: run for S seconds
          --rate R, -r         open loop: offer R requests/s on a fixed schedule (request i due at
                               start + i/R) instead of keeping every connection busy. A due request
                               goes out on an idle connection of the -c N, or waits in a FIFO for
                               one (nothing is dropped); latency and TTFT count from the due time,
                               so queueing is included (coordinated-omission correct). --warmup
                               requests run closed-loop before the schedule starts.
          --prompts FILE       JSONL: each line a `messages` array or a full request object
          --stream             ask for SSE streams (with stream_options.include_usage)
          --mode hit|miss      hit: repeat the same prompt(s); miss: make every prompt unique
          --api-key KEY        sent as `Authorization: Bearer KEY` (default: $OPENAI_API_KEY)
          --max-tokens N       add max_tokens to every request
          --warmup N           send N requests first, not counted
          --threads N          client event-loop threads (default 1)
          --timeout S          seconds before a request counts as timed out (default 30)
          --embeddings N       send embeddings requests of N items each to /v1/embeddings instead
          --fresh K            with --embeddings: K items new in every request, the others the same
                               in every request (default: all new with --mode miss, none with hit)
          --encoding-format F  with --embeddings: base64 (the openai SDK's default) or float
          --json               print the report as JSON
          --no-progress        no live progress line on stderr
        """

    /// The environment variables `parse` looks at.
    public static func processEnvironment() -> [String: String] {
        guard let key = getenv("OPENAI_API_KEY") else { return [:] }
        return ["OPENAI_API_KEY": String(cString: key)]
    }

    public static func parse(_ arguments: [String], environment: [String: String] = processEnvironment()) throws(UsageError) -> BenchOptions {
        var url: String?
        var options = BenchOptions(target: BenchTarget(host: "127.0.0.1", port: 8080, path: "/v1/chat/completions"))
        var sawRequests = false
        var models: [String] = []
        // `--model` repeats by design: each model is run in turn.
        var seen = SeenFlags([["--url"], ["--concurrency", "-c", "--connections"], ["--requests", "-n"], ["--duration", "-d"],
                              ["--rate", "-r"], ["--prompts"], ["--mode"], ["--api-key"], ["--warmup"], ["--max-tokens"],
                              ["--threads", "-t"], ["--timeout"], ["--api"], ["--embeddings"], ["--fresh"], ["--encoding-format"]],
                             hint: " (only --model may repeat)")
        var rest = CommandLineArguments.splittingFlagValues(arguments)[...]
        while let flag = rest.popFirst() {
            try seen.note(flag)
            switch flag {
            case "--url": url = try value(flag, &rest)
            case "--model", "-m":
                let model = try value(flag, &rest)
                if !models.contains(model) { models.append(model) }
            case "--concurrency", "-c", "--connections": options.concurrency = try integer(flag, &rest, 1...100_000)
            case "--requests", "-n":
                options.requests = try integer(flag, &rest, 1...1_000_000_000)
                sawRequests = true
            case "--duration", "-d": options.duration = try number(flag, &rest, positive: true)
            case "--rate", "-r": options.rate = try number(flag, &rest, positive: true)
            case "--prompts": options.promptsFile = try value(flag, &rest)
            case "--stream": options.stream = true
            case "--mode":
                let v = try value(flag, &rest)
                guard let mode = Mode(rawValue: v) else { throw UsageError("--mode must be `hit` or `miss`, not `\(v)`") }
                options.mode = mode
            case "--api":
                let v = try value(flag, &rest)
                guard let api = API(rawValue: v) else { throw UsageError("--api must be `chat` or `messages`, not `\(v)`") }
                options.api = api
            case "--api-key": options.apiKey = try value(flag, &rest)
            case "--json": options.json = true
            case "--warmup": options.warmup = try integer(flag, &rest, 0...1_000_000_000)
            case "--max-tokens": options.maxTokens = try integer(flag, &rest, 1...10_000_000)
            case "--threads", "-t": options.threads = try integer(flag, &rest, 1...64)
            case "--timeout": options.timeout = try number(flag, &rest, positive: true)
            case "--no-progress": options.progress = false
            case "--embeddings": options.embeddingItems = try integer(flag, &rest, 1...2048)
            case "--fresh": options.freshItems = try integer(flag, &rest, 0...2048)
            case "--encoding-format":
                let v = try value(flag, &rest)
                guard v == "base64" || v == "float" else { throw UsageError("--encoding-format must be `base64` or `float`, not `\(v)`") }
                options.encodingFormat = v
            default: throw UsageError("unknown option `\(flag)` for `ultragate bench`; run `ultragate bench --help`")
            }
        }
        guard let url else { throw UsageError("`ultragate bench` needs --url (e.g. --url http://127.0.0.1:8080/v1)") }
        if !models.isEmpty { options.models = models }
        options.model = options.models[0]
        options.target = try BenchTarget(url: url, api: options.api)
        if let items = options.embeddingItems {
            if options.stream { throw UsageError("--stream does not apply to --embeddings") }
            if options.api != .chat { throw UsageError("--api does not apply to --embeddings") }
            if let fresh = options.freshItems, fresh > items { throw UsageError("--fresh \(fresh) is more than --embeddings \(items)") }
            options.target.path = BenchTarget.embeddingsPath(options.target.path)
        } else if options.freshItems != nil {
            throw UsageError("--fresh applies to --embeddings only")
        }
        if options.duration != nil {
            if sawRequests { throw UsageError("give either --requests or --duration, not both") }
            options.requests = nil
        }
        if options.apiKey == nil, let key = environment["OPENAI_API_KEY"], !key.isEmpty { options.apiKey = key }
        options.threads = min(options.threads, options.concurrency)
        return options
    }

    private static func value(_ flag: String, _ rest: inout ArraySlice<String>) throws(UsageError) -> String {
        guard let v = rest.popFirst(), !v.isEmpty else { throw UsageError("\(flag) needs a value") }
        return v
    }

    private static func integer(_ flag: String, _ rest: inout ArraySlice<String>, _ range: ClosedRange<Int>) throws(UsageError) -> Int {
        let v = try value(flag, &rest)
        guard let n = Int(v), range.contains(n) else {
            throw UsageError("\(flag) must be a whole number from \(range.lowerBound) to \(range.upperBound), not `\(v)`")
        }
        return n
    }

    private static func number(_ flag: String, _ rest: inout ArraySlice<String>, positive: Bool) throws(UsageError) -> Double {
        let v = try value(flag, &rest)
        guard let d = Double(v), d.isFinite, d > 0 else { throw UsageError("\(flag) must be a positive finite number, not `\(v)`") }
        return d
    }
}

/// Where the requests go: plain HTTP/1.1 only (the client is built for loopback and LAN targets).
public struct BenchTarget: Equatable, Sendable {
    public var host: String
    public var port: Int
    public var path: String

    public init(host: String, port: Int, path: String) {
        self.host = host
        self.port = port
        self.path = path
    }

    /// Accepts `http://host[:port]/v1`, `http://host[:port]` (adds `/v1/chat/completions`) or a full
    /// URL ending in `/chat/completions` (for `.messages`: `/v1/messages`, `/messages`).
    public init(url: String, api: BenchOptions.API = .chat) throws(UsageError) {
        guard url.hasPrefix("http://") else {
            if url.hasPrefix("https://") { throw UsageError("--url: https is not supported by the bench client; use plain http (e.g. through a local proxy)") }
            throw UsageError("--url must start with http://, not `\(url)`")
        }
        let rest = url.dropFirst("http://".count)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<slash]
        var path = String(rest[slash...])
        if let q = path.firstIndex(of: "?") { path = String(path[..<q]) }
        while path.hasSuffix("/") { path.removeLast() }
        if path.isEmpty { path = "/v1" }
        let endpoint = api == .chat ? "/chat/completions" : "/messages"
        if path.hasSuffix("/embeddings") {
            path = String(path.dropLast("/embeddings".count)) + endpoint  // `--embeddings` picks the endpoint
        } else if !path.hasSuffix(endpoint) {
            path += endpoint
        }
        var host = String(authority)
        var port = 80
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw UsageError("--url has a malformed IPv6 host: `\(url)`") }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") {
                guard let p = Int(after.dropFirst()), (1...65535).contains(p) else { throw UsageError("--url has a bad port: `\(url)`") }
                port = p
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            guard let p = Int(authority[authority.index(after: colon)...]), (1...65535).contains(p) else {
                throw UsageError("--url has a bad port: `\(url)`")
            }
            port = p
        }
        guard !host.isEmpty else { throw UsageError("--url has no host: `\(url)`") }
        self.init(host: host, port: port, path: path)
    }

    /// The embeddings endpoint beside a chat-completions path: `/v1/chat/completions` → `/v1/embeddings`.
    package static func embeddingsPath(_ path: String) -> String {
        let chat = "/chat/completions"
        return path.hasSuffix(chat) ? String(path.dropLast(chat.count)) + "/embeddings" : path
    }

    public var url: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return "http://\(h):\(port)\(path)"
    }

    /// The Host header value.
    package var authority: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return port == 80 ? h : "\(h):\(port)"
    }
}
