import Testing
@testable import UltraGateSupport
@testable import UltraGateJSON
@testable import UltraGateProviders
@testable import UltraGate

/// The Responses stream encoder, event by event, with no sockets: hub chunks in, typed events with
/// increasing sequence numbers out, and a finished `Response` equal to what the non-streamed
/// translation of the same answer gives.
@Suite struct ResponsesStreamEncoderTests {
    static let shell = ResponseObject.shell(request: ["model": "m"], id: "resp_abc", createdAt: 100, model: "m")

    static func chunk(_ delta: JSONObject, finish: String? = nil, usage: JSON? = nil) -> JSONObject {
        var choice: JSONObject = ["index": 0, "delta": .object(delta)]
        choice["finish_reason"] = finish.map(JSON.string) ?? .null
        var c: JSONObject = ["object": "chat.completion.chunk", "choices": [.object(choice)]]
        if let usage { c["usage"] = usage }
        return c
    }

    static func types(_ events: [JSONObject]) -> [String] { events.map { $0["type"]?.stringValue ?? "?" } }

    @Test func textStreamEventByEvent() {
        var encoder = ResponsesStreamEncoder(shell: Self.shell)
        #expect(Self.types(encoder.add(Self.chunk(["role": "assistant"]))) == ["response.created", "response.in_progress"])
        let first = encoder.add(Self.chunk(["content": "Hel"]))
        #expect(Self.types(first) == ["response.output_item.added", "response.content_part.added", "response.output_text.delta"])
        #expect(first[0]["item"]?["id"]?.stringValue == ResponseObject.itemID("msg", responseID: "resp_abc", index: 0))
        #expect(first[2]["delta"]?.stringValue == "Hel" && first[2]["sequence_number"]?.intValue == 4)
        #expect(Self.types(encoder.add(Self.chunk(["content": "lo"]))) == ["response.output_text.delta"])
        #expect(encoder.add(Self.chunk([:], finish: "stop")).isEmpty)
        let usage: JSON = ["prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5]
        #expect(encoder.add(["choices": [], "usage": usage]).isEmpty)
        let end = encoder.finish(completedAt: 101)
        #expect(Self.types(end) == ["response.output_text.done", "response.content_part.done", "response.output_item.done",
                                    "response.completed"])
        #expect(end[0]["text"]?.stringValue == "Hello")
        #expect(end.last?["sequence_number"]?.intValue == 9)
        let done = end.last?["response"]?.objectValue
        #expect(done?["status"]?.stringValue == "completed" && done?["usage"]?["total_tokens"]?.intValue == 5)
        // The same answer whole, through the non-streaming translation: the same Response.
        let completion: JSONObject = ["choices": [["index": 0, "message": ["role": "assistant", "content": "Hello"],
                                                   "finish_reason": "stop"]], "usage": usage]
        #expect(ResponsesChatCodec.response(fromChat: completion, shell: Self.shell, completedAt: 101) == done)
        #expect(encoder.response == done)
    }

    @Test func toolCallsReasoningAndLength() {
        var encoder = ResponsesStreamEncoder(shell: Self.shell)
        var events = encoder.add(Self.chunk(["reasoning_content": "think"]))
        #expect(Self.types(events).suffix(3) == ["response.output_item.added", "response.content_part.added",
                                                 "response.reasoning_text.delta"])
        events = encoder.add(Self.chunk(["tool_calls": [["index": 0, "id": "call_1", "type": "function",
                                                         "function": ["name": "f", "arguments": "{\"a\""]]]]))
        #expect(Self.types(events) == ["response.reasoning_text.done", "response.content_part.done", "response.output_item.done",
                                       "response.output_item.added", "response.function_call_arguments.delta"])
        events = encoder.add(Self.chunk(["tool_calls": [["index": 0, "function": ["arguments": ":1}"]]]]))
        #expect(Self.types(events) == ["response.function_call_arguments.delta"])
        events = encoder.add(Self.chunk(["tool_calls": [["index": 1, "id": "call_2", "function": ["name": "g", "arguments": "{}"]]]],
                                        finish: "length"))
        #expect(Self.types(events) == ["response.function_call_arguments.done", "response.output_item.done",
                                       "response.output_item.added", "response.function_call_arguments.delta"])
        #expect(events[0]["arguments"]?.stringValue == "{\"a\":1}" && events[0]["name"]?.stringValue == "f")
        let end = encoder.finish(completedAt: 1)
        #expect(Self.types(end) == ["response.function_call_arguments.done", "response.output_item.done", "response.incomplete"])
        let response = end.last?["response"]
        #expect(response?["incomplete_details"]?["reason"]?.stringValue == "max_output_tokens")
        #expect(response?["output"]?.arrayValue?.map { $0["type"]?.stringValue ?? "" } == ["reasoning", "function_call", "function_call"])
        #expect(response?["output"]?.arrayValue?[1]["call_id"]?.stringValue == "call_1")
    }

    @Test func failureAfterStartEndsWithErrorAndFailed() {
        var encoder = ResponsesStreamEncoder(shell: Self.shell)
        _ = encoder.add(Self.chunk(["content": "partial"]))
        let events = encoder.fail(.upstream(status: 502, message: "boom"))
        #expect(Self.types(events) == ["error", "response.failed"])
        #expect(events[1]["response"]?["status"]?.stringValue == "failed")
        #expect(events[1]["response"]?["error"]?["code"]?.stringValue == "server_error")
    }

    @Test func replayOfAFinishedResponseRebuildsIt() {
        let completion: JSONObject = ["choices": [["index": 0, "message": ["role": "assistant", "content": "Hi",
            "tool_calls": [["id": "call_9", "type": "function", "function": ["name": "f", "arguments": "{}"]]]],
            "finish_reason": "tool_calls"]]]
        let response = ResponsesChatCodec.response(fromChat: completion, shell: Self.shell, completedAt: 5)
        let events = ResponsesStreamEncoder.replay(response)
        #expect(events.enumerated().allSatisfy { $0.element["sequence_number"]?.intValue == $0.offset })
        #expect(events.last?["response"]?.objectValue == response)
        let doneItems = events.filter { $0["type"]?.stringValue == "response.output_item.done" }.compactMap { $0["item"] }
        #expect(doneItems == response["output"]?.arrayValue)
        #expect(String(decoding: ResponsesStreamEncoder.sse(events[0]), as: UTF8.self).hasPrefix("event: response.created\ndata: {"))
    }

    /// `resp_` and 48 lowercase hex digits, as OpenAI's ids look, and never the same twice.
    @Test func responseIDsLookLikeOpenAIsAndDoNotRepeat() {
        var seen = Set<String>()
        for _ in 0..<2_000 {
            let id = ResponseObject.newID()
            #expect(id.hasPrefix("resp_") && id.utf8.count == 53)
            #expect(id.utf8.dropFirst(5).allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }, "\(id)")
            seen.insert(id)
        }
        #expect(seen.count == 2_000)
    }
}

/// Responses ⇄ hub translation.
@Suite struct ResponsesChatCodecTests {
    static func parse(_ text: String) -> JSONObject { (try? JSONParser.parse(text))?.objectValue ?? [:] }

    @Test func requestTranslation() throws {
        let body = Self.parse("""
            {"model":"m","instructions":"sys","max_output_tokens":50,"temperature":0.2,"reasoning":{"effort":"low"},
             "tools":[{"type":"function","name":"f","parameters":{"type":"object"}}],"tool_choice":{"type":"function","name":"f"},
             "text":{"format":{"type":"json_schema","name":"S","schema":{"type":"object"},"strict":true}},"metadata":{"a":"b"},
             "store":true,"parallel_tool_calls":false}
            """)
        let items: [JSON] = [
            ["type": "message", "role": "developer", "content": [["type": "input_text", "text": "dev"]]],
            ["role": "user", "content": [["type": "input_text", "text": "look"], ["type": "input_image", "image_url": "data:x"]]],
            ["type": "reasoning", "id": "rs_1", "summary": []],
            ["type": "message", "role": "assistant", "content": [["type": "output_text", "text": "calling"]]],
            ["type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"],
            ["type": "function_call", "call_id": "c2", "name": "f", "arguments": "{\"x\":1}"],
            ["type": "function_call_output", "call_id": "c1", "output": "r1"],
        ]
        let chat = try ResponsesChatCodec.chatBody(body, items: items)
        let messages = chat["messages"]?.arrayValue ?? []
        #expect(messages.map { $0["role"]?.stringValue ?? "" } == ["system", "system", "user", "assistant", "tool"])
        #expect(messages[3]["content"]?.stringValue == "calling")
        #expect(messages[3]["tool_calls"]?.arrayValue?.map { $0["id"]?.stringValue ?? "" } == ["c1", "c2"])
        #expect(messages[2]["content"]?.arrayValue?[1]["image_url"]?["url"]?.stringValue == "data:x")
        #expect(messages[4]["tool_call_id"]?.stringValue == "c1")
        #expect(chat["max_tokens"]?.intValue == 50 && chat["reasoning_effort"]?.stringValue == "low")
        #expect(chat["tools"]?.arrayValue?[0]["function"]?["name"]?.stringValue == "f")
        #expect(chat["tool_choice"]?["function"]?["name"]?.stringValue == "f")
        #expect(chat["response_format"]?["json_schema"]?["name"]?.stringValue == "S")
        #expect(chat["parallel_tool_calls"] == .bool(false))
        #expect(chat["metadata"] == nil && chat["store"] == nil)
    }

    @Test func untranslatableInputIsA400NamingIt() {
        func error(_ body: JSONObject, _ items: [JSON]) -> GatewayError? {
            do { _ = try ResponsesChatCodec.chatBody(body, items: items); return nil } catch { return error }
        }
        let user: [JSON] = [["role": "user", "content": "x"]]
        #expect(error(["tools": [["type": "web_search"]]], user)?.param == "tools[0].type")
        #expect(error([:], [["type": "item_reference", "id": "m"]])?.param == "input[0].type")
        #expect(error([:], [["role": "user", "content": [["type": "input_image", "file_id": "f"]]]])?.status == 400)
        #expect(error(["text": ["format": ["type": "yaml"]]], user)?.param == "text.format.type")
    }

    @Test func validatorRefusesUnsupportedFields() {
        for field in ResponsesRequest.refusedFields {
            guard case .failure(let e) = ResponsesRequest.validate(.object(["model": "m", "input": "x", field: true])) else {
                Issue.record("\(field) accepted"); continue
            }
            #expect(e.param == field && e.status == 400)
        }
        guard case .success(let ok) = ResponsesRequest.validate(.object(["model": "m", "input": "x", "background": false])) else {
            Issue.record("background: false refused"); return
        }
        #expect(ok.store && !ok.stream && ok.input.count == 1)
    }

    @Test func endpointsMatch() {
        #expect(Endpoint.match(method: "POST", path: "/v1/responses") == .responses)
        #expect(Endpoint.match(method: "GET", path: "/v1/responses/resp_1") == .response("resp_1"))
        #expect(Endpoint.match(method: "DELETE", path: "/v1/responses/resp_1") == .response("resp_1"))
        #expect(Endpoint.match(method: "GET", path: "/v1/responses/resp_1/input_items") == .responseInputItems("resp_1"))
        #expect(Endpoint.match(method: "GET", path: "/v1/responses") == .methodNotAllowed(allowed: ["POST"]))
    }

    @Test func inputItemsPaging() {
        let record = StoredResponseFixture.record
        guard case .success(let page) = InputItemsPage.parse("order=asc&limit=2") else { Issue.record("refused"); return }
        let first = page.list(record)
        #expect(first["data"]?.arrayValue?.count == 2 && first["has_more"] == .bool(true))
        guard case .success(let next) = InputItemsPage.parse("order=asc&after=\(first["last_id"]?.stringValue ?? "")") else { return }
        #expect(next.list(record)["data"]?.arrayValue?.count == 1 && next.list(record)["has_more"] == .bool(false))
        guard case .failure(let bad) = InputItemsPage.parse("limit=500") else { Issue.record("limit 500 accepted"); return }
        #expect(bad.param == "limit")
    }
}

import UltraGateCache

enum StoredResponseFixture {
    static let record = StoredResponse(id: "resp_x", owner: "shared", createdAt: 0, expiresAt: .infinity, previousResponseID: nil,
                                       response: [:], input: [["role": "user", "content": "a"], ["role": "assistant", "content": "b"],
                                                              ["role": "user", "content": "c"]])
}
