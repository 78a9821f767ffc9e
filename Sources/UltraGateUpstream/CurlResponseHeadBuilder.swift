import UltraGateHTTP
import UltraGateSupport
/// Assembles the final response head from the lines libcurl hands to the header callback, one
/// call per line (status line, fields, blank line). Interim 1xx heads are dropped, and so are
/// trailers that arrive after the final head.
package struct CurlResponseHeadBuilder {
    package enum Event: Equatable {
        case none
        /// The first status line arrived: the first-byte phase is over.
        case started
        /// The blank line that ends the final (non-1xx) head arrived.
        case complete
    }

    package private(set) var status = 0
    package private(set) var fields: [HTTPHeaderField] = []
    package private(set) var hasStarted = false
    package private(set) var isComplete = false

    package mutating func consume(_ raw: UnsafeRawBufferPointer) -> Event {
        if isComplete { return .none }
        var end = raw.count
        while end > 0, raw[end - 1] == UInt8(ascii: "\n") || raw[end - 1] == UInt8(ascii: "\r") { end -= 1 }
        let line = UnsafeRawBufferPointer(rebasing: raw[0..<end])

        if line.isEmpty {
            if status >= 200 {
                isComplete = true
                return .complete
            }
            // End of an interim head (100 Continue, 103 Early Hints): wait for the next one.
            status = 0
            fields.removeAll(keepingCapacity: true)
            return .none
        }
        if line.count >= 5, line[0] == UInt8(ascii: "H"), line[1] == UInt8(ascii: "T"),
           line[2] == UInt8(ascii: "T"), line[3] == UInt8(ascii: "P"), line[4] == UInt8(ascii: "/") {
            status = Self.parseStatus(line)
            fields.removeAll(keepingCapacity: true)
            fields.reserveCapacity(16)
            if hasStarted { return .none }
            hasStarted = true
            return .started
        }
        guard status != 0 else { return .none }
        if line[0] == UInt8(ascii: " ") || line[0] == UInt8(ascii: "\t") {
            // Obsolete line folding: the line continues the previous field's value.
            if !fields.isEmpty {
                fields[fields.count - 1].value += " " + Self.trimmed(line, from: 0, to: line.count)
            }
            return .none
        }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > 0 else { return .none }
        let name = String(decoding: UnsafeRawBufferPointer(rebasing: line[0..<colon]), as: UTF8.self)
        fields.append(HTTPHeaderField(name, Self.trimmed(line, from: colon + 1, to: line.count)))
        return .none
    }

    package var head: UpstreamResponseHead { UpstreamResponseHead(status: status, headers: fields) }

    /// "HTTP/1.1 200 OK" or "HTTP/2 200": the three digits after the first space.
    private static func parseStatus(_ line: UnsafeRawBufferPointer) -> Int {
        guard let space = line.firstIndex(of: UInt8(ascii: " ")) else { return 0 }
        var code = 0
        var i = space + 1
        while i < line.count, i < space + 4 {
            let d = line[i] &- UInt8(ascii: "0")
            guard d < 10 else { return 0 }
            code = code * 10 + Int(d)
            i += 1
        }
        return i == space + 4 ? code : 0
    }

    private static func trimmed(_ line: UnsafeRawBufferPointer, from: Int, to: Int) -> String {
        var start = from, end = to
        while start < end, line[start] == UInt8(ascii: " ") || line[start] == UInt8(ascii: "\t") { start += 1 }
        while end > start, line[end - 1] == UInt8(ascii: " ") || line[end - 1] == UInt8(ascii: "\t") { end -= 1 }
        return String(decoding: UnsafeRawBufferPointer(rebasing: line[start..<end]), as: UTF8.self)
    }
}
