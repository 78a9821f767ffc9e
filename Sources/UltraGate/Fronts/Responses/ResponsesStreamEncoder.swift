import UltraGateProviders
import UltraGateJSON
import UltraGateSupport

/// Turns hub chunks (`chat.completion.chunk`) into the Responses API's typed stream events, each
/// with the next `sequence_number`. A value type: feed it chunks, get events back, no I/O, so it
/// is tested event by event (as AHC's connection state machines are).
///
/// Order, as OpenAI streams: `response.created`, `response.in_progress`; per output item
/// `response.output_item.added`, its content part's `…added`, deltas, `…done`s and
/// `response.output_item.done`; then `response.completed` (or `response.incomplete` for a length
/// stop, `error` + `response.failed` for a failure). Items are opened in the order their deltas
/// arrive: reasoning, text, function calls. The finished `Response` (`response`) is built from
/// the same items, so the SDK's stream accumulator assembles what a non-streamed call returns.
package struct ResponsesStreamEncoder: Sendable {
    private enum OpenItem: Sendable {
        case reasoning(index: Int, id: String, text: String)
        case message(index: Int, id: String, text: String, refusal: String?)
    }
    private struct OpenCall: Sendable {
        var outputIndex: Int
        var id: String
        var callID: String
        var name: String
        var arguments: String
        var done = false
    }

    private(set) var shell: JSONObject
    private let responseID: String
    private var sequence = 0
    private var started = false
    private var open: OpenItem?
    private var calls: [Int: OpenCall] = [:]
    /// Chat tool-call indexes in the order they were opened.
    private var callOrder: [Int] = []
    /// Finished output items by output index.
    private var output: [Int: JSON] = [:]
    private var nextIndex = 0
    private var finishReason: String?
    private var usage: JSON?
    /// The finished `Response`, once `finish` or `fail` ran.
    package private(set) var response: JSONObject?

    package init(shell: JSONObject) {
        self.shell = shell
        responseID = shell["id"]?.stringValue ?? ""
    }

    /// An encoder that continues a stream already under way at `nextSequence` (to end it with
    /// `fail` after events another encoder, or the upstream, produced).
    package init(continuing shell: JSONObject, nextSequence: Int) {
        self.init(shell: shell)
        sequence = nextSequence
        started = true
    }

    /// One event in SSE framing: `event: <type>` then its JSON on one `data:` line.
    package static func sse(_ event: JSONObject) -> [UInt8] {
        var writer = JSONWriter(capacity: 512)
        writer.appendASCII("event: ")
        for b in (event["type"]?.stringValue ?? "message").utf8 where b != 0x0A && b != 0x0D { writer.bytes.append(b) }
        writer.appendASCII("\ndata: ")
        writer.write(.object(event))
        writer.appendASCII("\n\n")
        return writer.bytes
    }

    private mutating func event(_ type: String, _ fields: JSONObject) -> JSONObject {
        var e: JSONObject = ["type": .string(type)]
        for (key, value) in fields { e[key] = value }
        e["sequence_number"] = .int(sequence)
        sequence += 1
        return e
    }

    /// `response.created` and `response.in_progress` (once; every other call starts with them too).
    package mutating func start() -> [JSONObject] {
        guard !started else { return [] }
        started = true
        return [event("response.created", ["response": .object(shell)]),
                event("response.in_progress", ["response": .object(shell)])]
    }

    /// The events for one hub chunk (choice 0; usage remembered for the end).
    package mutating func add(_ chunk: JSONObject) -> [JSONObject] {
        var events = start()
        if let u = chunk["usage"], !u.isNull { usage = u }
        guard let choice = chunk["choices"]?.arrayValue?.first(where: { ($0["index"]?.intValue ?? 0) == 0 }) else { return events }
        if let reason = choice["finish_reason"]?.stringValue { finishReason = reason }
        guard case .object(let delta)? = choice["delta"] else { return events }
        if let piece = delta["reasoning_content"]?.stringValue ?? delta["reasoning"]?.stringValue, !piece.isEmpty {
            events += reasoningDelta(piece)
        }
        if let piece = delta["content"]?.stringValue, !piece.isEmpty { events += textDelta(piece) }
        if let piece = delta["refusal"]?.stringValue, !piece.isEmpty { events += refusalDelta(piece) }
        for call in delta["tool_calls"]?.arrayValue ?? [] { events += toolCallDelta(call) }
        return events
    }

    private mutating func reasoningDelta(_ piece: String) -> [JSONObject] {
        var events: [JSONObject] = []
        if case .reasoning(let index, let id, let text)? = open {
            open = .reasoning(index: index, id: id, text: text + piece)
            return [event("response.reasoning_text.delta", ["item_id": .string(id), "output_index": .int(index),
                                                             "content_index": 0, "delta": .string(piece)])]
        }
        events += closeOpen()
        let index = take()
        let id = ResponseObject.itemID("rs", responseID: responseID, index: index)
        open = .reasoning(index: index, id: id, text: piece)
        var item = ResponsesChatCodec.reasoningItem(id: id, text: nil).objectValue!
        item["status"] = "in_progress"
        events.append(event("response.output_item.added", ["output_index": .int(index), "item": .object(item)]))
        events.append(event("response.content_part.added", ["item_id": .string(id), "output_index": .int(index),
                                                             "content_index": 0, "part": ResponsesChatCodec.reasoningPart("")]))
        events.append(event("response.reasoning_text.delta", ["item_id": .string(id), "output_index": .int(index),
                                                               "content_index": 0, "delta": .string(piece)]))
        return events
    }

    private mutating func openMessage() -> (events: [JSONObject], index: Int, id: String, text: String, refusal: String?) {
        if case .message(let index, let id, let text, let refusal)? = open { return ([], index, id, text, refusal) }
        var events = closeOpen()
        let index = take()
        let id = ResponseObject.itemID("msg", responseID: responseID, index: index)
        events.append(event("response.output_item.added", [
            "output_index": .int(index), "item": ResponsesChatCodec.messageItem(id: id, parts: [], status: "in_progress")]))
        return (events, index, id, "", nil)
    }

    private mutating func textDelta(_ piece: String) -> [JSONObject] {
        var (events, index, id, text, refusal) = openMessage()
        if events.isEmpty, refusal != nil { return refusalDelta(piece) }  // text after a refusal: rare; kept with it
        if !events.isEmpty {
            events.append(event("response.content_part.added", ["item_id": .string(id), "output_index": .int(index),
                                                                 "content_index": 0, "part": ResponsesChatCodec.textPart("")]))
        }
        text += piece
        open = .message(index: index, id: id, text: text, refusal: refusal)
        events.append(event("response.output_text.delta", ["item_id": .string(id), "output_index": .int(index), "content_index": 0,
                                                           "delta": .string(piece), "logprobs": []]))
        return events
    }

    private mutating func refusalDelta(_ piece: String) -> [JSONObject] {
        var (events, index, id, text, refusal) = openMessage()
        let contentIndex = text.isEmpty && refusal == nil && !events.isEmpty ? 0 : (text.isEmpty ? 0 : 1)
        if refusal == nil {
            if !text.isEmpty { events += closeText(index: index, id: id, text: text) }
            events.append(event("response.content_part.added", ["item_id": .string(id), "output_index": .int(index),
                                                                 "content_index": .int(contentIndex),
                                                                 "part": ResponsesChatCodec.refusalPart("")]))
        }
        refusal = (refusal ?? "") + piece
        open = .message(index: index, id: id, text: text, refusal: refusal)
        events.append(event("response.refusal.delta", ["item_id": .string(id), "output_index": .int(index),
                                                        "content_index": .int(contentIndex), "delta": .string(piece)]))
        return events
    }

    private mutating func toolCallDelta(_ call: JSON) -> [JSONObject] {
        let chatIndex = call["index"]?.intValue ?? callOrder.count
        var events: [JSONObject] = []
        let piece = call["function"]?["arguments"]?.stringValue ?? ""
        if var existing = calls[chatIndex] {
            if let name = call["function"]?["name"]?.stringValue, existing.name.isEmpty { existing.name = name }
            existing.arguments += piece
            calls[chatIndex] = existing
        } else {
            events += closeOpen()
            // A new call ends the one before it (calls stream one after another).
            if let previous = callOrder.last { events += closeCall(previous) }
            let index = take()
            let opened = OpenCall(outputIndex: index, id: ResponseObject.itemID("fc", responseID: responseID, index: index),
                                  callID: call["id"]?.stringValue ?? OpenAIShapes.toolCallID(),
                                  name: call["function"]?["name"]?.stringValue ?? "", arguments: piece)
            calls[chatIndex] = opened
            callOrder.append(chatIndex)
            events.append(event("response.output_item.added", ["output_index": .int(index), "item": ResponsesChatCodec.functionCallItem(
                id: opened.id, callID: opened.callID, name: opened.name, arguments: "", status: "in_progress")]))
        }
        guard !piece.isEmpty, let current = calls[chatIndex] else { return events }
        events.append(event("response.function_call_arguments.delta", ["item_id": .string(current.id),
                                                                        "output_index": .int(current.outputIndex),
                                                                        "delta": .string(piece)]))
        return events
    }

    private mutating func take() -> Int {
        defer { nextIndex += 1 }
        return nextIndex
    }

    private mutating func closeText(index: Int, id: String, text: String) -> [JSONObject] {
        [event("response.output_text.done", ["item_id": .string(id), "output_index": .int(index), "content_index": 0,
                                              "text": .string(text), "logprobs": []]),
         event("response.content_part.done", ["item_id": .string(id), "output_index": .int(index), "content_index": 0,
                                               "part": ResponsesChatCodec.textPart(text)])]
    }

    /// Ends the open reasoning or message item.
    private mutating func closeOpen() -> [JSONObject] {
        guard let item = open else { return [] }
        open = nil
        var events: [JSONObject] = []
        switch item {
        case .reasoning(let index, let id, let text):
            events.append(event("response.reasoning_text.done", ["item_id": .string(id), "output_index": .int(index),
                                                                  "content_index": 0, "text": .string(text)]))
            events.append(event("response.content_part.done", ["item_id": .string(id), "output_index": .int(index),
                                                               "content_index": 0, "part": ResponsesChatCodec.reasoningPart(text)]))
            let done = ResponsesChatCodec.reasoningItem(id: id, text: text)
            output[index] = done
            events.append(event("response.output_item.done", ["output_index": .int(index), "item": done]))
        case .message(let index, let id, let text, let refusal):
            var parts: [JSON] = []
            if refusal == nil || !text.isEmpty {
                if refusal == nil { events += closeText(index: index, id: id, text: text) }
                parts.append(ResponsesChatCodec.textPart(text))
            }
            if let refusal {
                let contentIndex = parts.count
                events.append(event("response.refusal.done", ["item_id": .string(id), "output_index": .int(index),
                                                               "content_index": .int(contentIndex), "refusal": .string(refusal)]))
                events.append(event("response.content_part.done", ["item_id": .string(id), "output_index": .int(index),
                                                                   "content_index": .int(contentIndex),
                                                                   "part": ResponsesChatCodec.refusalPart(refusal)]))
                parts.append(ResponsesChatCodec.refusalPart(refusal))
            }
            let done = ResponsesChatCodec.messageItem(id: id, parts: parts, status: closingStatus)
            output[index] = done
            events.append(event("response.output_item.done", ["output_index": .int(index), "item": done]))
        }
        return events
    }

    private mutating func closeCall(_ chatIndex: Int) -> [JSONObject] {
        guard var call = calls[chatIndex], !call.done else { return [] }
        call.done = true
        calls[chatIndex] = call
        let done = ResponsesChatCodec.functionCallItem(id: call.id, callID: call.callID, name: call.name, arguments: call.arguments,
                                                       status: closingStatus)
        output[call.outputIndex] = done
        return [event("response.function_call_arguments.done", ["item_id": .string(call.id), "output_index": .int(call.outputIndex),
                                                                 "name": .string(call.name), "arguments": .string(call.arguments)]),
                event("response.output_item.done", ["output_index": .int(call.outputIndex), "item": done])]
    }

    private mutating func closeAll() -> [JSONObject] {
        var events = closeOpen()
        for chatIndex in callOrder { events += closeCall(chatIndex) }
        return events
    }

    /// The status items get as they close: `incomplete` for those still open when a length (or
    /// content filter) stop ends the output.
    private var closingStatus = "completed"

    private var finishedOutput: [JSON] { (0..<nextIndex).compactMap { output[$0] } }

    /// The hub stream ended well: closes every item, then `response.completed` (or
    /// `response.incomplete` after a length stop). No output at all still yields an empty message.
    package mutating func finish(completedAt: Int) -> [JSONObject] {
        var events = start()
        if nextIndex == 0 { events += textDelta("") }
        // The items still open when the output stopped short are the ones it cut.
        if ResponseObject.status(finishReason: finishReason).status == "incomplete" { closingStatus = "incomplete" }
        events += closeAll()
        let finished = ResponseObject.finished(shell, output: finishedOutput, usage: ResponseObject.usage(fromChat: usage),
                                               finishReason: finishReason, completedAt: completedAt)
        response = finished
        let type = finished["status"]?.stringValue == "incomplete" ? "response.incomplete" : "response.completed"
        events.append(event(type, ["response": .object(finished)]))
        return events
    }

    /// The stream failed after it began: an `error` event, then `response.failed` with what was
    /// finished so far.
    package mutating func fail(_ error: GatewayError) -> [JSONObject] {
        var events = start()
        let failed = ResponseObject.failed(shell, output: finishedOutput, error: error)
        response = failed
        events.append(event("error", ["code": error.code.map(JSON.string) ?? .string(error.type), "message": .string(error.message),
                                      "param": error.param.map(JSON.string) ?? .null]))
        events.append(event("response.failed", ["response": .object(failed)]))
        return events
    }

    /// The whole event sequence of a finished `Response` (a cache hit, a non-streamed flight
    /// joined by a streaming client, a pass-through answer): the same events a live stream of it
    /// would have produced, text and arguments each in one delta.
    package static func replay(_ response: JSONObject) -> [JSONObject] {
        var shell = response
        shell["status"] = "in_progress"
        shell["output"] = []
        shell["usage"] = nil
        shell["completed_at"] = .null
        shell["incomplete_details"] = .null
        shell["error"] = .null
        var encoder = ResponsesStreamEncoder(shell: shell)
        var events = encoder.start()
        for (index, item) in (response["output"]?.arrayValue ?? []).enumerated() {
            events += encoder.replayItem(item, index: index)
        }
        let type: String
        switch response["status"]?.stringValue {
        case "incomplete": type = "response.incomplete"
        case "failed": type = "response.failed"
        default: type = "response.completed"
        }
        events.append(encoder.event(type, ["response": .object(response)]))
        return events
    }

    /// One finished output item as its added / part / delta / done events.
    private mutating func replayItem(_ item: JSON, index: Int) -> [JSONObject] {
        let id = item["id"]?.stringValue ?? ""
        var events: [JSONObject] = []
        var added = item.objectValue ?? [:]
        added["status"] = "in_progress"
        let at: (Int) -> JSONObject = { ["item_id": .string(id), "output_index": .int(index), "content_index": .int($0)] }
        switch item["type"]?.stringValue {
        case "message":
            added["content"] = []
            events.append(event("response.output_item.added", ["output_index": .int(index), "item": .object(added)]))
            for (c, part) in (item["content"]?.arrayValue ?? []).enumerated() {
                let type = part["type"]?.stringValue
                var empty = part.objectValue ?? [:]
                if type == "refusal" { empty["refusal"] = "" } else { empty["text"] = "" }
                events.append(event("response.content_part.added", at(c).merging(["part": .object(empty)])))
                if type == "refusal" {
                    let refusal = part["refusal"] ?? ""
                    events.append(event("response.refusal.delta", at(c).merging(["delta": refusal])))
                    events.append(event("response.refusal.done", at(c).merging(["refusal": refusal])))
                } else {
                    let text = part["text"] ?? ""
                    events.append(event("response.output_text.delta", at(c).merging(["delta": text, "logprobs": []])))
                    events.append(event("response.output_text.done", at(c).merging(["text": text, "logprobs": []])))
                }
                events.append(event("response.content_part.done", at(c).merging(["part": part])))
            }
        case "function_call":
            added["arguments"] = ""
            events.append(event("response.output_item.added", ["output_index": .int(index), "item": .object(added)]))
            let arguments = item["arguments"] ?? ""
            events.append(event("response.function_call_arguments.delta", ["item_id": .string(id), "output_index": .int(index),
                                                                            "delta": arguments]))
            events.append(event("response.function_call_arguments.done", ["item_id": .string(id), "output_index": .int(index),
                                                                           "name": item["name"] ?? "", "arguments": arguments]))
        default:
            // Reasoning and built-in tool items: added and done whole.
            events.append(event("response.output_item.added", ["output_index": .int(index), "item": item]))
        }
        events.append(event("response.output_item.done", ["output_index": .int(index), "item": item]))
        return events
    }
}

extension JSONObject {
    /// This object with `other`'s fields added after its own.
    fileprivate func merging(_ other: JSONObject) -> JSONObject {
        var out = self
        for (key, value) in other { out[key] = value }
        return out
    }
}
