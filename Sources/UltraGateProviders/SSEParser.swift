import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
/// One dispatched server-sent event.
public struct SSEEvent: Sendable, Equatable {
    /// The `event` field, or "message" when the event named none.
    public var event: String
    /// The `data` lines joined with "\n".
    public var data: String
    /// The last event ID in force when the event was dispatched (it persists across events).
    public var id: String?
    /// Whether the data lines were valid UTF-8. The standard decodes them with replacement
    /// (U+FFFD in `data`); a gateway refuses such an event, as it refuses such a JSON body.
    public var dataWasValidUTF8: Bool

    public init(event: String = "message", data: String, id: String? = nil, dataWasValidUTF8: Bool = true) {
        self.event = event
        self.data = data
        self.id = id
        self.dataWasValidUTF8 = dataWasValidUTF8
    }
}

/// Incremental `text/event-stream` parser following WHATWG HTML §9.2.6 "Interpreting an event stream":
/// CR, LF and CRLF end lines; a leading UTF-8 BOM is dropped; `:` starts a comment; one space after
/// the field's colon is removed; `data` lines join with "\n"; `id` values containing NUL are ignored;
/// `retry` takes only ASCII digits; a blank line dispatches, and an event with no data is dropped.
///
/// Bytes may be split anywhere (inside a UTF-8 sequence or a CRLF): lines are decoded only once complete.
/// One deliberate leniency: `finish()` dispatches a last event whose blank line never came (the spec
/// discards it), so a truncated final JSON record surfaces as a parse error instead of vanishing.
///
/// Bounded: the line being read plus the event's `data` so far may hold `maxEventBytes` at most.
/// Past that the parser sets `eventTooLarge`, lets go of what it held and ignores the rest.
public struct SSEParser: Sendable {
    /// The most bytes one event (its data lines together, or any one line) may take.
    public let maxEventBytes: Int
    /// An event or line passed `maxEventBytes`: nothing more is parsed.
    public private(set) var eventTooLarge = false
    private var line: [UInt8] = []
    private var afterCR = false
    private var bomChecked = false
    private var bomPrefix: [UInt8] = []
    private var dataBuffer: [UInt8] = []
    private var hasData = false
    /// A byte of 0x80 or more was seen in the line being read, or in the event's data so far:
    /// only then is the data checked for UTF-8 (found by the line-break scan, at no extra pass).
    private var lineHasHighByte = false
    private var dataHasHighByte = false
    private var eventType: [UInt8] = []
    /// The last event ID set by an `id` field.
    public private(set) var lastEventID: String?
    /// The reconnection time (ms) from the last valid `retry` field.
    public private(set) var reconnectionTime: Int?

    private static let bom: [UInt8] = [0xEF, 0xBB, 0xBF]

    public init(maxEventBytes: Int = .max) {
        self.maxEventBytes = maxEventBytes
    }

    /// The events completed by these bytes; those before an event that is too large still come.
    public mutating func feed(_ bytes: [UInt8]) -> [SSEEvent] {
        var events: [SSEEvent] = []
        if eventTooLarge { return events }
        var start = 0
        if !bomChecked {
            // The BOM may itself arrive split: hold back a matching prefix until it is decided.
            var i = 0
            while i < bytes.count, bomPrefix.count < 3, bytes[i] == Self.bom[bomPrefix.count] {
                bomPrefix.append(bytes[i])
                i += 1
            }
            if bomPrefix.count < 3, i == bytes.count { return events }
            bomChecked = true
            if bomPrefix.count < 3 { scan(bomPrefix, from: 0, into: &events) }
            bomPrefix = []
            start = i
        }
        scan(bytes, from: start, into: &events)
        return events
    }

    /// End of stream: a pending line is processed and a pending event dispatched (see the type's note).
    public mutating func finish() -> [SSEEvent] {
        var events: [SSEEvent] = []
        if eventTooLarge { return events }
        if !bomChecked {
            bomChecked = true
            let held = bomPrefix
            bomPrefix = []
            scan(held, from: 0, into: &events)
        }
        if !line.isEmpty {
            processLine(into: &events)
        }
        dispatch(into: &events)
        afterCR = false
        return events
    }

    private mutating func scan(_ bytes: [UInt8], from start: Int, into events: inout [SSEEvent]) {
        let cr = UInt8(ascii: "\r"), lf = UInt8(ascii: "\n")
        bytes.withUnsafeBufferPointer { buffer in
            var i = start
            while i < buffer.count {
                if afterCR {
                    afterCR = false
                    if buffer[i] == lf {  // the LF of a CR LF pair
                        i += 1
                        continue
                    }
                }
                let end = Self.firstLineBreak(in: buffer, from: i, sawHighByte: &lineHasHighByte)
                // Checked before anything is copied: an endless line is never held past the limit.
                guard end - i <= maxEventBytes - line.count - dataBuffer.count else {
                    giveUp()
                    return
                }
                line.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[i..<end]))
                if end == buffer.count { return }
                processLine(into: &events)
                afterCR = buffer[end] == cr
                i = end + 1
            }
        }
    }

    /// Past the limit: what was held goes, and so does everything after.
    private mutating func giveUp() {
        eventTooLarge = true
        line = []
        dataBuffer = []
        eventType = []
        hasData = false
    }

    /// The index of the first CR or LF at or after `start` (or `buffer.count`), eight bytes at a
    /// time: a long `data:` line costs a few operations per word instead of two comparisons a byte.
    /// Sets `sawHighByte` when a byte before the break is 0x80 or more (not ASCII).
    private static func firstLineBreak(in buffer: UnsafeBufferPointer<UInt8>, from start: Int, sawHighByte: inout Bool) -> Int {
        let count = buffer.count
        guard let base = buffer.baseAddress else { return count }
        var i = start
        var seen: UInt64 = 0
        defer { if seen & ByteLanes.highBits != 0 { sawHighByte = true } }
        while i &+ 8 <= count {
            let word = ByteLanes.load(base, i)
            let mask = ByteLanes.equal(word, 0x0A) | ByteLanes.equal(word, 0x0D)
            if mask != 0 {
                let lane = ByteLanes.firstLane(mask)
                seen |= word & ((1 &<< UInt64(lane &* 8)) &- 1)  // the bytes before the break
                return i &+ lane
            }
            seen |= word
            i &+= 8
        }
        while i < count, base[i] != 0x0A, base[i] != 0x0D {
            seen |= UInt64(base[i])
            i &+= 1
        }
        return i
    }

    private mutating func processLine(into events: inout [SSEEvent]) {
        defer {
            line.removeAll(keepingCapacity: true)
            lineHasHighByte = false
        }
        if line.isEmpty {
            dispatch(into: &events)
            return
        }
        if line[0] == UInt8(ascii: ":") { return }
        let colon = line.firstIndex(of: UInt8(ascii: ":"))
        let nameEnd = colon ?? line.count
        var valueStart = colon.map { $0 + 1 } ?? line.count
        if valueStart < line.count, line[valueStart] == UInt8(ascii: " ") { valueStart += 1 }
        let name = line[0..<nameEnd]
        let value = line[valueStart..<line.count]
        if Self.isName(name, "data") {
            dataBuffer.append(contentsOf: value)
            dataBuffer.append(UInt8(ascii: "\n"))
            hasData = true
            if lineHasHighByte { dataHasHighByte = true }
        } else if Self.isName(name, "event") {
            eventType.removeAll(keepingCapacity: true)
            eventType.append(contentsOf: value)
        } else if Self.isName(name, "id") {
            if !value.contains(0) { lastEventID = String(decoding: value, as: UTF8.self) }
        } else if Self.isName(name, "retry") {
            if !value.isEmpty, value.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
               let ms = Int(String(decoding: value, as: UTF8.self)) {
                reconnectionTime = ms
            }
        }
    }

    /// Byte comparison with a field name (the generic `elementsEqual` cost ~250 instructions a line).
    @inline(__always)
    private static func isName(_ name: ArraySlice<UInt8>, _ field: StaticString) -> Bool {
        guard name.count == field.utf8CodeUnitCount else { return false }
        let p = field.utf8Start
        var i = 0
        for b in name {
            if b != p[i] { return false }
            i += 1
        }
        return true
    }

    private mutating func dispatch(into events: inout [SSEEvent]) {
        defer {
            dataBuffer.removeAll(keepingCapacity: true)
            eventType.removeAll(keepingCapacity: true)
            hasData = false
            dataHasHighByte = false
        }
        guard hasData else { return }
        dataBuffer.removeLast()  // the "\n" after the last data line
        // Known event names (Anthropic's `content_block_delta`, …) come back as literals.
        let type = eventType.isEmpty ? "message"
            : eventType.withUnsafeBufferPointer { JSONCommonStrings.shared.lookup($0) } ?? String(decoding: eventType, as: UTF8.self)
        let valid = !dataHasHighByte || dataBuffer.withUnsafeBufferPointer { UTF8Validation.isValid($0) }
        events.append(SSEEvent(event: type, data: String(decoding: dataBuffer, as: UTF8.self), id: lastEventID, dataWasValidUTF8: valid))
    }
}
