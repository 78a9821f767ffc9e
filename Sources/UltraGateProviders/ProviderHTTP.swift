import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
import Foundation

/// HTTP plumbing shared by the adapters: sending, error classification, `Retry-After`.
package enum ProviderHTTP {
    /// Sends a buffered request; a transport failure or a non-2xx status becomes a `ProviderError`.
    package static func send(_ request: UpstreamRequest, via transport: any UpstreamTransport, provider: String,
                     redactor: SecretRedactor) async throws(ProviderError) -> UpstreamResponse {
        let response: UpstreamResponse
        do {
            response = try await transport.send(request)
        } catch {
            throw transportError(error, provider: provider)
        }
        guard (200..<300).contains(response.head.status) else {
            throw httpError(head: response.head, body: response.body, provider: provider, redactor: redactor)
        }
        return response
    }

    /// Opens a streaming request; returns once a 2xx head arrived. An error status reads the
    /// error body (its first `UpstreamLimits.errorBodyBytes` at most) and throws it as a `ProviderError`.
    package static func openStream(_ request: UpstreamRequest, via transport: any UpstreamTransport, provider: String,
                           redactor: SecretRedactor) async throws(ProviderError) -> UpstreamStreamingResponse {
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
                    body.append(contentsOf: chunk.prefix(UpstreamLimits.errorBodyBytes - body.count))
                    if body.count >= UpstreamLimits.errorBodyBytes { break }
                }
            } catch {
                // The status alone still says what happened.
            }
            throw httpError(head: response.head, body: body, provider: provider, redactor: redactor)
        }
        return response
    }

    /// Parses a 2xx response body as a JSON object.
    /// A body the parser refuses, a key repeated in one object included, is an invalid response:
    /// its text would reach the client and the cache while the parsed form (`usage`,
    /// `finish_reason`) could say something else.
    package static func jsonObject(_ body: [UInt8], provider: String) throws(ProviderError) -> JSONObject {
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

    package static func transportError(_ error: any Error, provider: String) -> ProviderError {
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

    /// A `ProviderError` for an error status, keeping the provider's status and message (with every
    /// piece of a configured secret redacted: see `SecretRedactor`).
    /// Understands OpenAI `{"error":{"message","type","code"}}`, Anthropic
    /// `{"type":"error","error":{"type","message"}}` and Google `{"error":{"code","message","status"}}`.
    package static func httpError(head: UpstreamResponseHead, body: [UInt8], provider: String, redactor: SecretRedactor,
                          now: Date = Date()) -> ProviderError {
        let details = errorDetails(body)
        var message = details.message
        if message == nil {
            let text = excerpt(body).trimmingCharacters(in: .whitespacesAndNewlines)
            message = text.isEmpty ? "HTTP \(head.status)" : "HTTP \(head.status): \(text)"
        }
        return ProviderError(kind: .http(status: head.status), provider: provider,
                             message: redactor.redact(message!),
                             retryAfter: retryAfter(head, now: now) ?? googleRetryDelay(body),
                             code: details.code.map(redactor.redact), param: details.param.map(redactor.redact))
    }

    /// Up to `limit` bytes of an upstream body as text for an error message: cut before a
    /// character the limit would split and, when the bytes are not UTF-8, each byte outside
    /// printable ASCII written as `\xHH`, never as U+FFFD (a character the upstream did not send).
    package static func excerpt(_ body: [UInt8], limit: Int = 512) -> String {
        var end = min(limit, body.count)
        if end < body.count {
            // Back to the start of the character the cut falls in, unless it starts right there.
            var start = end
            while start > 0, start > end - 4, body[start] & 0xC0 == 0x80 { start -= 1 }
            if body[start] & 0xC0 != 0x80 { end = start }
        }
        let cut = body[..<end]
        if let text = cut.withUnsafeBufferPointer({ UTF8Validation.isValid($0) ? String(decoding: $0, as: UTF8.self) : nil }) {
            return text
        }
        let digits = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for b in cut {
            if b >= 0x20 && b < 0x7F { out.append(b) } else { out += [0x5C, 0x78, digits[Int(b >> 4)], digits[Int(b & 15)]] }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Google puts the delay in the body: `error.details[]` of type `google.rpc.RetryInfo`, `retryDelay: "30s"`.
    package static func googleRetryDelay(_ body: [UInt8]) -> Double? {
        guard let json = try? JSONParser.parse(body), let details = json["error"]?["details"]?.arrayValue else { return nil }
        for detail in details where detail["@type"]?.stringValue?.hasSuffix("RetryInfo") == true {
            if let delay = detail["retryDelay"]?.stringValue, delay.hasSuffix("s"), let seconds = Double(delay.dropLast()) {
                return seconds
            }
        }
        return nil
    }

    /// What any of the three error bodies says (also used for errors inside streams).
    package struct ErrorDetails {
        package var message: String?
        /// The code the client sees: OpenAI's `code` as given (an explicit null stays null); else
        /// Google's `status` or Anthropic's error `type`, their only names for the error.
        package var code: String?
        /// The error's type or status name, which decides the status of an error inside a stream.
        package var kind: String?
        /// OpenAI's `param`: the request field the error is about.
        package var param: String?
    }

    package static func errorDetails(_ body: [UInt8]) -> ErrorDetails {
        guard let json = try? JSONParser.parse(body) else { return ErrorDetails() }
        return errorDetails(json)
    }

    package static func errorDetails(_ json: JSON) -> ErrorDetails {
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
    package static func embeddedError(_ json: JSON, provider: String, redactor: SecretRedactor) -> ProviderError {
        let details = errorDetails(json)
        let status = json["error"]?["code"]?.intValue ?? status(forErrorCode: details.code ?? details.kind)
        return ProviderError(kind: .http(status: status), provider: provider,
                             message: redactor.redact(details.message ?? "error reported by the provider"),
                             code: details.code.map(redactor.redact), param: details.param.map(redactor.redact))
    }

    /// The HTTP status a provider's error type stands for, for errors that arrive inside a 200 stream.
    package static func status(forErrorCode code: String?) -> Int {
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
    package static func retryAfter(_ head: UpstreamResponseHead, now: Date = Date()) -> Double? {
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
    package static func httpDate(_ text: String) -> Date? {
        for format in ["EEE, dd MMM yyyy HH:mm:ss zzz", "EEEE, dd-MMM-yy HH:mm:ss zzz", "EEE MMM d HH:mm:ss yyyy"] {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "GMT")
            formatter.dateFormat = format
            if let date = formatter.date(from: text) { return date }
        }
        return nil
    }

    /// `{base}{path}`, the base's query kept after the path and `query` (without `?`) added to it:
    /// `https://h/v1?api-version=1` + `/chat/completions` is `https://h/v1/chat/completions?api-version=1`.
    /// Trailing slashes of the base's path are dropped, so the slash is not doubled; a fragment
    /// (never sent to a server) is dropped.
    package static func join(_ base: String, _ path: String, query: String? = nil) -> String {
        let parts = BaseURL(base)
        return parts.url(path, query: query)
    }

    /// A base URL split once into the part paths are appended to and its query.
    package struct BaseURL: Sendable {
        /// Scheme, authority and path, without trailing slashes.
        package let prefix: String
        /// The query without `?`, nil when there is none.
        package let query: Substring?

        package init(_ base: String) {
            var rest = Substring(base)
            if let hash = rest.firstIndex(of: "#") { rest = rest[..<hash] }
            var prefix = rest
            var query: Substring?
            if let mark = rest.firstIndex(of: "?") {
                prefix = rest[..<mark]
                query = rest[rest.index(after: mark)...]
                if query!.isEmpty { query = nil }
            }
            while prefix.hasSuffix("/") { prefix = prefix.dropLast() }
            self.prefix = String(prefix)
            self.query = query
        }

        package func url(_ path: String, query extra: String? = nil) -> String {
            switch (query, extra) {
            case (nil, nil): return prefix + path
            case (let q?, nil): return prefix + path + "?" + q
            case (nil, let e?): return prefix + path + "?" + e
            case (let q?, let e?): return prefix + path + "?" + q + "&" + e
            }
        }
    }
}
