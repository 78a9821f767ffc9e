import Foundation

/// HTTP plumbing shared by the adapters: sending, error classification, `Retry-After`.
enum ProviderHTTP {
    /// Sends a buffered request; a transport failure or a non-2xx status becomes a `ProviderError`.
    static func send(_ request: UpstreamRequest, via transport: any UpstreamTransport, provider: String,
                     secret: String?) async throws(ProviderError) -> UpstreamResponse {
        let response: UpstreamResponse
        do {
            response = try await transport.send(request)
        } catch {
            throw transportError(error, provider: provider)
        }
        guard (200..<300).contains(response.head.status) else {
            throw httpError(head: response.head, body: response.body, provider: provider, secret: secret)
        }
        return response
    }

    /// Opens a streaming request; returns once a 2xx head arrived. An error status reads the
    /// (short) error body and throws it as a `ProviderError`.
    static func openStream(_ request: UpstreamRequest, via transport: any UpstreamTransport, provider: String,
                           secret: String?) async throws(ProviderError) -> UpstreamStreamingResponse {
        let response: UpstreamStreamingResponse
        do {
            response = try await transport.stream(request)
        } catch {
            throw transportError(error, provider: provider)
        }
        guard (200..<300).contains(response.head.status) else {
            var body: [UInt8] = []
            do {
                for try await chunk in response.body {
                    body.append(contentsOf: chunk)
                    if body.count > 1 << 20 { break }
                }
            } catch {
                // The status alone still says what happened.
            }
            throw httpError(head: response.head, body: body, provider: provider, secret: secret)
        }
        return response
    }

    /// Parses a 2xx response body as a JSON object.
    /// A body the parser refuses, a key repeated in one object included, is an invalid response:
    /// its text would reach the client and the cache while the parsed form (`usage`,
    /// `finish_reason`) could say something else.
    static func jsonObject(_ body: [UInt8], provider: String) throws(ProviderError) -> JSONObject {
        let value: JSON
        do { value = try JSONParser.parse(body) } catch {
            throw ProviderError(kind: .invalidResponse, provider: provider,
                                message: "response body is not valid JSON (\(body.count) bytes): \(error)")
        }
        guard let object = value.objectValue else {
            throw ProviderError(kind: .invalidResponse, provider: provider,
                                message: "response body is not a JSON object (\(body.count) bytes)")
        }
        return object
    }

    static func transportError(_ error: any Error, provider: String) -> ProviderError {
        if let error = error as? ProviderError { return error }
        if let error = error as? UpstreamError {
            return ProviderError(kind: .transport(error), provider: provider, message: error.description)
        }
        if error is CancellationError {
            return ProviderError(kind: .transport(.cancelled), provider: provider, message: UpstreamError.cancelled.description)
        }
        let wrapped = UpstreamError.transport(String(describing: error))
        return ProviderError(kind: .transport(wrapped), provider: provider, message: wrapped.description)
    }

    /// A `ProviderError` for an error status, keeping the provider's status and message.
    /// Understands OpenAI `{"error":{"message","type","code"}}`, Anthropic
    /// `{"type":"error","error":{"type","message"}}` and Google `{"error":{"code","message","status"}}`.
    static func httpError(head: UpstreamResponseHead, body: [UInt8], provider: String, secret: String?,
                          now: Date = Date()) -> ProviderError {
        let details = errorDetails(body)
        var message = details.message
        if message == nil {
            let text = String(decoding: body.prefix(512), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            message = text.isEmpty ? "HTTP \(head.status)" : "HTTP \(head.status): \(text)"
        }
        return ProviderError(kind: .http(status: head.status), provider: provider,
                             message: redact(message!, secret: secret),
                             retryAfter: retryAfter(head, now: now) ?? googleRetryDelay(body), code: details.code,
                             param: details.param)
    }

    /// Google puts the delay in the body: `error.details[]` of type `google.rpc.RetryInfo`, `retryDelay: "30s"`.
    static func googleRetryDelay(_ body: [UInt8]) -> Double? {
        guard let json = try? JSONParser.parse(body), let details = json["error"]?["details"]?.arrayValue else { return nil }
        for detail in details where detail["@type"]?.stringValue?.hasSuffix("RetryInfo") == true {
            if let delay = detail["retryDelay"]?.stringValue, delay.hasSuffix("s"), let seconds = Double(delay.dropLast()) {
                return seconds
            }
        }
        return nil
    }

    /// What any of the three error bodies says (also used for errors inside streams).
    struct ErrorDetails {
        var message: String?
        /// The code the client sees: OpenAI's `code` as given (an explicit null stays null); else
        /// Google's `status` or Anthropic's error `type`, their only names for the error.
        var code: String?
        /// The error's type or status name, which decides the status of an error inside a stream.
        var kind: String?
        /// OpenAI's `param`: the request field the error is about.
        var param: String?
    }

    static func errorDetails(_ body: [UInt8]) -> ErrorDetails {
        guard let json = try? JSONParser.parse(body) else { return ErrorDetails() }
        return errorDetails(json)
    }

    static func errorDetails(_ json: JSON) -> ErrorDetails {
        let error = json["error"]
        var details = ErrorDetails()
        details.message = error?["message"]?.stringValue ?? error?.stringValue ?? json["message"]?.stringValue
        details.kind = error?["status"]?.stringValue ?? error?["type"]?.stringValue
        details.param = error?["param"]?.stringValue
        switch error?["code"] {
        case .string(let s)?: details.code = s
        case .null?: break  // OpenAI's "no code": not to be replaced by the type
        case .number?, nil: details.code = details.kind  // Google's numeric code repeats the HTTP status
        default: break
        }
        return details
    }

    /// An error object that arrived inside a 2xx body or stream (OpenAI/vLLM `{"error":{…}}`, Anthropic
    /// `error` events, Google `{"error":{"code","status"}}`): a numeric `code` is the status; else the
    /// error type decides.
    static func embeddedError(_ json: JSON, provider: String, secret: String?) -> ProviderError {
        let details = errorDetails(json)
        let status = json["error"]?["code"]?.intValue ?? status(forErrorCode: details.code ?? details.kind)
        return ProviderError(kind: .http(status: status), provider: provider,
                             message: redact(details.message ?? "error reported by the provider", secret: secret),
                             code: details.code, param: details.param)
    }

    /// The HTTP status a provider's error type stands for, for errors that arrive inside a 200 stream.
    static func status(forErrorCode code: String?) -> Int {
        switch code {
        case "invalid_request_error", "INVALID_ARGUMENT", "FAILED_PRECONDITION": return 400
        case "authentication_error", "UNAUTHENTICATED", "invalid_api_key": return 401
        case "permission_error", "PERMISSION_DENIED": return 403
        case "not_found_error", "NOT_FOUND": return 404
        case "request_too_large": return 413
        case "rate_limit_error", "rate_limit_exceeded", "RESOURCE_EXHAUSTED": return 429
        case "overloaded_error": return 529
        case "UNAVAILABLE": return 503
        case "DEADLINE_EXCEEDED", "timeout_error": return 504
        default: return 500
        }
    }

    /// `Retry-After` (RFC 9110 §10.2.3: delay-seconds or an HTTP-date) or `retry-after-ms`, in seconds.
    static func retryAfter(_ head: UpstreamResponseHead, now: Date = Date()) -> Double? {
        if let ms = head.header("retry-after-ms").flatMap({ Double($0.trimmingCharacters(in: .whitespaces)) }),
           ms.isFinite, ms >= 0 {
            return Seconds.clamped(ms / 1000)
        }
        guard let value = head.header("retry-after")?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        if let seconds = Double(value) { return seconds.isFinite && seconds >= 0 ? Seconds.clamped(seconds) : nil }
        guard let date = httpDate(value) else { return nil }
        return max(0, date.timeIntervalSince(now))
    }

    /// IMF-fixdate, obsolete RFC 850 and asctime forms (RFC 9110 §5.6.7).
    static func httpDate(_ text: String) -> Date? {
        for format in ["EEE, dd MMM yyyy HH:mm:ss zzz", "EEEE, dd-MMM-yy HH:mm:ss zzz", "EEE MMM d HH:mm:ss yyyy"] {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "GMT")
            formatter.dateFormat = format
            if let date = formatter.date(from: text) { return date }
        }
        return nil
    }

    /// Removes an API key from text that came from upstream before it reaches errors or logs.
    /// Masked echoes of it go too: providers answer a bad key with its first and last characters
    /// (`Incorrect API key provided: sk-proj-****abcd`), which is still a piece of our key.
    static func redact(_ text: String, secret: String?) -> String {
        guard let secret, secret.count >= 4 else { return text }
        var out = text.contains(secret) ? text.replacingOccurrences(of: secret, with: "[redacted]") : text
        guard out.contains("***") || (secret.count >= 12 && (out.contains(secret.prefix(6)) || out.contains(secret.suffix(4)))) else {
            return out
        }
        out = out.split(separator: " ", omittingEmptySubsequences: false).map { word -> String in
            // Trailing punctuation found on the bytes and cut as one slice: prepending character by
            // character was quadratic, and so was stepping back a `Substring`'s characters.
            var end = word.utf8.endIndex
            while end > word.utf8.startIndex {
                let before = word.utf8.index(before: end)
                guard Self.isTrailingPunctuation(word.utf8[before]) else { break }
                end = before
            }
            let core = word[..<end]
            let tail = word[end...]
            let masked = core.contains("***")
            let keyLike = secret.count >= 12 && core.count >= 8 && (core.hasPrefix(secret.prefix(6)) || core.hasSuffix(secret.suffix(4)))
            return masked || keyLike ? "[redacted]" + String(tail) : String(word)
        }.joined(separator: " ")
        return out
    }

    /// `.,;:)"'`, which may follow a key in a sentence.
    private static func isTrailingPunctuation(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "."), UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: ":"), UInt8(ascii: ")"),
             UInt8(ascii: "\""), UInt8(ascii: "'"):
            return true
        default:
            return false
        }
    }

    /// `base` without trailing slashes, so `{base_url}/path` never doubles the slash.
    static func join(_ base: String, _ path: String) -> String {
        var base = Substring(base)
        while base.hasSuffix("/") { base = base.dropLast() }
        return base + path
    }
}
