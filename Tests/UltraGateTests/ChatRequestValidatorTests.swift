import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateJSON
@testable import UltraGateHTTP
@testable import UltraGateCache
@testable import UltraGateUpstream
@testable import UltraGateProviders
@testable import UltraGate

/// One invalid body and the error OpenAI gives for it.
struct InvalidCase: Sendable, CustomTestStringConvertible {
    var body: String
    var param: String?
    var code: String?
    var message: String?
    init(_ body: String, _ param: String?, _ code: String?, _ message: String? = nil) {
        self.body = body
        self.param = param
        self.code = code
        self.message = message
    }
    var testDescription: String { body }
}

private let user = #"{"role":"user","content":"Hi"}"#
private func body(_ extra: String) -> String { #"{"model":"gpt-4o","messages":[\#(user)]\#(extra)}"# }
private func messages(_ list: String) -> String { #"{"model":"gpt-4o","messages":\#(list)}"# }

@Suite struct ChatRequestValidatorTests {
    func validate(_ text: String) throws -> Result<ChatCompletionRequest, GatewayError> {
        ChatRequestValidator.validate(try JSONParser.parse(text))
    }

    // MARK: Valid requests (from OpenAI's API reference and guides)

    @Test(arguments: [
        // Default
        #"{"model":"gpt-4.1","messages":[{"role":"developer","content":"You are a helpful assistant."},{"role":"user","content":"Hello!"}]}"#,
        // Multi-turn audio: the earlier spoken answer referred to by id, with no content (and with null)
        #"{"model":"gpt-4o-audio-preview","modalities":["text","audio"],"audio":{"voice":"alloy","format":"wav"},"messages":[{"role":"user","content":"Is a golden retriever a good family dog?"},{"role":"assistant","audio":{"id":"audio_abc123"}},{"role":"assistant","audio":{"id":"audio_abc124"},"content":null},{"role":"user","content":"Why do you say they are loyal?"}]}"#,
        // Image input
        #"{"model":"gpt-4.1","messages":[{"role":"user","content":[{"type":"text","text":"What is in this image?"},{"type":"image_url","image_url":{"url":"https://upload.wikimedia.org/wikipedia/commons/thumb/d/dd/Gfp-wisconsin-madison-the-nature-boardwalk.jpg/2560px-Gfp-wisconsin-madison-the-nature-boardwalk.jpg","detail":"low"}}]}],"max_tokens":300}"#,
        // Audio and file input
        #"{"model":"gpt-4o-audio-preview","modalities":["text"],"messages":[{"role":"user","content":[{"type":"text","text":"What is in this recording?"},{"type":"input_audio","input_audio":{"data":"UklGRiQAAABXQVZF","format":"wav"}},{"type":"file","file":{"file_id":"file-6F2ksmvXxt4VdoqmHRw6kL"}}]}]}"#,
        // Streaming with usage
        #"{"model":"gpt-4.1","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Hello!"}],"stream":true,"stream_options":{"include_usage":true}}"#,
        // Functions
        #"{"model":"gpt-4.1","messages":[{"role":"user","content":"What is the weather like in Boston today?"}],"tools":[{"type":"function","function":{"name":"get_current_weather","description":"Get the current weather in a given location","parameters":{"type":"object","properties":{"location":{"type":"string","description":"The city and state, e.g. San Francisco, CA"},"unit":{"type":"string","enum":["celsius","fahrenheit"]}},"required":["location"]}}}],"tool_choice":"auto","parallel_tool_calls":false}"#,
        // Logprobs
        #"{"model":"gpt-4.1","messages":[{"role":"user","content":"Hello!"}],"logprobs":true,"top_logprobs":2}"#,
        // Structured outputs
        #"{"model":"gpt-4o-2024-08-06","messages":[{"role":"system","content":"You are a helpful math tutor. Guide the user through the solution step by step."},{"role":"user","content":"how can I solve 8x + 7 = -23"}],"response_format":{"type":"json_schema","json_schema":{"name":"math_reasoning","schema":{"type":"object","properties":{"steps":{"type":"array","items":{"type":"object","properties":{"explanation":{"type":"string"},"output":{"type":"string"}},"required":["explanation","output"],"additionalProperties":false}},"final_answer":{"type":"string"}},"required":["steps","final_answer"],"additionalProperties":false},"strict":true}}}"#,
        // A tool round trip, with the assistant's tool call echoed back (content null)
        #"{"model":"gpt-4.1","messages":[{"role":"user","content":"Weather in Paris?"},{"role":"assistant","content":null,"tool_calls":[{"id":"call_12345xyz","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"Paris, France\"}"}}]},{"role":"tool","tool_call_id":"call_12345xyz","content":"14°C"}],"tools":[{"type":"function","function":{"name":"get_weather","strict":true,"parameters":{"type":"object","properties":{"location":{"type":"string"}},"required":["location"],"additionalProperties":false}}}],"tool_choice":{"type":"function","function":{"name":"get_weather"}}}"#,
        // Every sampling knob at a boundary, nullable ones null, assistant content parts with a refusal
        #"{"model":"m","messages":[{"role":"user","content":"x","name":"ann"},{"role":"assistant","content":[{"type":"text","text":"a"},{"type":"refusal","refusal":"no"}]},{"role":"function","name":"f","content":null}],"temperature":2,"top_p":0,"n":128,"max_tokens":1,"max_completion_tokens":null,"presence_penalty":-2,"frequency_penalty":2.0,"seed":-9223372036854775808,"logit_bias":{"50256":-100,"1":100},"stop":["a","b","c","d"],"stream":null,"user":"u1","response_format":{"type":"json_object"}}"#,
        // JSON mode, stop as a string, legacy functions
        #"{"model":"m","messages":[{"role":"user","content":"json please"}],"stop":"\n","response_format":{"type":"text"},"functions":[{"name":"f","parameters":{"type":"object"}}],"function_call":"auto"}"#,
    ])
    func acceptsDocumentedRequests(_ text: String) throws {
        let result = try validate(text)
        if case .failure(let error) = result { Issue.record("rejected: \(error.message) (param \(error.param ?? "-"))") }
    }

    /// Every value OpenAI's spec allows for the fields the cache key leaves out and the output
    /// options: each enum value, and null wherever the spec marks the field nullable.
    @Test(arguments: [
        #","metadata":{"trace":"t-1","tenant":""}"#, #","metadata":{}"#, #","metadata":null"#,
        ",\"metadata\":{\((0..<16).map { #""k\#($0)":"v""# }.joined(separator: ","))}",
        #","metadata":{"\#(String(repeating: "k", count: 64))":"\#(String(repeating: "v", count: 512))"}"#,
        #","store":true"#, #","store":false"#, #","store":null"#,
        #","service_tier":"auto""#, #","service_tier":"default""#, #","service_tier":"flex""#,
        #","service_tier":"scale""#, #","service_tier":"priority""#, #","service_tier":"fast""#, #","service_tier":null"#,
        #","service_tier":"on_demand""#,  // Groq's: values are the upstream's to judge
        #","prompt_cache_key":"pk-1""#, #","prompt_cache_key":null"#,
        #","safety_identifier":"user-hash""#, #","safety_identifier":null"#,
        #","reasoning_effort":"none""#, #","reasoning_effort":"minimal""#, #","reasoning_effort":"low""#,
        #","reasoning_effort":"medium""#, #","reasoning_effort":"high""#, #","reasoning_effort":"xhigh""#,
        #","reasoning_effort":"max""#, #","reasoning_effort":null"#, #","reasoning_effort":"default""#,
        #","verbosity":"low""#, #","verbosity":"medium""#, #","verbosity":"high""#, #","verbosity":null"#,
        #","modalities":["text","audio"]"#, #","modalities":[]"#, #","modalities":null"#,
        #","audio":{"voice":"alloy","format":"wav"}"#, #","audio":{"voice":"my-voice","format":"aac"}"#,
        #","audio":{"voice":{"id":"voice_1234"},"format":"pcm16"}"#, #","audio":{"voice":"ash","format":"mp3"}"#,
        #","audio":{"voice":"ash","format":"flac"}"#, #","audio":{"voice":"ash","format":"opus"}"#, #","audio":null"#,
        #","prediction":{"type":"content","content":"The file as it is."}"#,
        #","prediction":{"type":"content","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}"#,
        #","prediction":null"#,
        #","web_search_options":{}"#, #","web_search_options":{"search_context_size":"low"}"#,
        #","web_search_options":{"search_context_size":"medium","user_location":null}"#,
        #","web_search_options":{"search_context_size":"high","user_location":{"type":"approximate","approximate":{"country":"GB","region":"London","city":"London","timezone":"Europe/London"}}}"#,
        #","web_search_options":{"user_location":{"type":"approximate","approximate":{}}}"#,
        #","logprobs":true,"top_logprobs":null"#, #","parallel_tool_calls":true"#,
    ])
    func acceptsEveryValueTheSpecAllows(_ extra: String) throws {
        let result = try validate(body(extra))
        if case .failure(let error) = result { Issue.record("rejected: \(error.message) (param \(error.param ?? "-"))") }
    }

    @Test func keepsTheBodyAndReadsTheTypedFields() throws {
        let text = #"{"model":"mock-gpt","x_custom":{"a":[1,2.50]},"messages":[{"role":"user","content":"Hi"}],"stream":true,"stream_options":{"include_usage":true},"n":2.0}"#
        let request = try validate(text).get()
        #expect(request.model == "mock-gpt")
        #expect(request.stream)
        #expect(request.includeUsage)
        #expect(request.n == 2)
        #expect(request.messages.count == 1)
        #expect(JSON.object(request.body).serializedString == text)  // unknown field and number text kept
    }

    @Test func defaults() throws {
        let request = try validate(body("")).get()
        #expect(!request.stream)
        #expect(!request.includeUsage)
        #expect(request.n == 1)
        let withoutUsage = try validate(body(#","stream":true,"stream_options":{}"#)).get()
        #expect(withoutUsage.stream && !withoutUsage.includeUsage)
    }

    // MARK: Invalid requests

    @Test(arguments: [
        // Body, model, messages
        InvalidCase("[]", nil, "invalid_type"),
        InvalidCase(#"{"messages":[\#(user)]}"#, "model", "missing_required_parameter", "Missing required parameter: 'model'."),
        InvalidCase(#"{"model":5,"messages":[\#(user)]}"#, "model", "invalid_type", "Invalid type for 'model': expected a string, but got an integer instead."),
        InvalidCase(#"{"model":"","messages":[\#(user)]}"#, "model", "empty_string"),
        InvalidCase(#"{"model":"gpt-4o"}"#, "messages", "missing_required_parameter", "Missing required parameter: 'messages'."),
        InvalidCase(messages("[]"), "messages", "empty_array", "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead."),
        InvalidCase(messages(#""hello""#), "messages", "invalid_type", "Invalid type for 'messages': expected an array, but got a string instead."),
        InvalidCase(messages("[1]"), "messages[0]", "invalid_type"),
        InvalidCase(messages(#"[{"role":"assistant","audio":{}}]"#), "messages[0].audio.id", "missing_required_parameter"),
        InvalidCase(messages(#"[{"role":"assistant","audio":"audio_abc123"}]"#), "messages[0].audio", "invalid_type"),
        InvalidCase(messages(#"[{"content":"x"}]"#), "messages[0].role", "missing_required_parameter"),
        InvalidCase(messages(#"[{"role":"foo","content":"x"}]"#), "messages[0].role", "invalid_value",
                    "Invalid value: 'foo'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'."),
        InvalidCase(messages(#"[{"role":7,"content":"x"}]"#), "messages[0].role", "invalid_type"),
        InvalidCase(messages(#"[{"role":"user","content":"x","name":5}]"#), "messages[0].name", "invalid_type"),
        // Content
        InvalidCase(messages(#"[{"role":"user"}]"#), "messages[0].content", "missing_required_parameter"),
        InvalidCase(messages(#"[{"role":"user","content":null}]"#), "messages[0].content", nil, "Invalid value for 'content': expected a string, got null."),
        InvalidCase(messages(#"[{"role":"system","content":null}]"#), "messages[0].content", nil),
        InvalidCase(messages(#"[{"role":"user","content":5}]"#), "messages[0].content", "invalid_type",
                    "Invalid type for 'messages[0].content': expected one of a string or array of objects, but got an integer instead."),
        InvalidCase(messages(#"[{"role":"user","content":[]}]"#), "messages[0].content", "empty_array"),
        InvalidCase(messages(#"[{"role":"user","content":["hi"]}]"#), "messages[0].content[0]", "invalid_type"),
        InvalidCase(messages(#"[{"role":"user","content":[{"text":"hi"}]}]"#), "messages[0].content[0].type", "missing_required_parameter"),
        InvalidCase(messages(#"[{"role":"user","content":[{"type":"video","url":"x"}]}]"#), "messages[0].content[0].type", "invalid_value",
                    "Invalid value: 'video'. Supported values are: 'text', 'image_url', 'input_audio', and 'file'."),
        InvalidCase(messages(#"[{"role":"user","content":[{"type":"text"}]}]"#), "messages[0].content[0].text", "missing_required_parameter"),
        InvalidCase(messages(#"[{"role":"user","content":[{"type":"text","text":1}]}]"#), "messages[0].content[0].text", "invalid_type"),
        InvalidCase(messages(#"[{"role":"user","content":[{"type":"image_url","image_url":{}}]}]"#), "messages[0].content[0].image_url.url", "missing_required_parameter"),
        InvalidCase(messages(#"[{"role":"user","content":[{"type":"image_url","image_url":"https://x/y.png"}]}]"#), "messages[0].content[0].image_url", "invalid_type"),
        InvalidCase(messages(#"[{"role":"user","content":[{"type":"image_url","image_url":{"url":"u","detail":"ultra"}}]}]"#), "messages[0].content[0].image_url.detail", "invalid_value"),
        InvalidCase(messages(#"[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"AA=="}}]}]"#), "messages[0].content[0].input_audio.format", "missing_required_parameter"),
        InvalidCase(messages(#"[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"AA==","format":"flac"}}]}]"#), "messages[0].content[0].input_audio.format", "invalid_value"),
        InvalidCase(messages(#"[{"role":"user","content":[{"type":"file","file":{"filename":"a.pdf"}}]}]"#), "messages[0].content[0].file", "missing_required_parameter"),
        InvalidCase(messages(#"[{"role":"user","content":[{"type":"refusal","refusal":"no"}]}]"#), "messages[0].content[0].type", "invalid_value"),
        InvalidCase(messages(#"[{"role":"system","content":[{"type":"image_url","image_url":{"url":"u"}}]}]"#), "messages[0].content[0].type", "invalid_value",
                    "Invalid value: 'image_url'. Supported values are: 'text'."),
        InvalidCase(messages(#"[{"role":"assistant","content":[{"type":"refusal"}]}]"#), "messages[0].content[0].refusal", "missing_required_parameter"),
        // Assistant, tool and function messages
        InvalidCase(messages(#"[\#(user),{"role":"assistant","content":null}]"#), "messages[1].content", nil),
        InvalidCase(messages(#"[\#(user),{"role":"assistant"}]"#), "messages[1].content", "missing_required_parameter"),
        InvalidCase(messages(#"[\#(user),{"role":"assistant","tool_calls":[]}]"#), "messages[1].tool_calls", "empty_array"),
        InvalidCase(messages(#"[\#(user),{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"f","arguments":"{}"}}]}]"#), "messages[1].tool_calls[0].id", "missing_required_parameter"),
        InvalidCase(messages(#"[\#(user),{"role":"assistant","tool_calls":[{"id":"c","type":"bogus","function":{"name":"f","arguments":"{}"}}]}]"#), "messages[1].tool_calls[0].type", "invalid_value"),
        InvalidCase(messages(#"[\#(user),{"role":"assistant","tool_calls":[{"id":"c","type":"function"}]}]"#), "messages[1].tool_calls[0].function", "missing_required_parameter"),
        InvalidCase(messages(#"[\#(user),{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":{}}}]}]"#), "messages[1].tool_calls[0].function.arguments", "invalid_type"),
        InvalidCase(messages(#"[\#(user),{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"a.b","arguments":"{}"}}]}]"#), "messages[1].tool_calls[0].function.name", "invalid_value"),
        InvalidCase(messages(#"[\#(user),{"role":"assistant","function_call":{"name":"f"}}]"#), "messages[1].function_call.arguments", "missing_required_parameter"),
        InvalidCase(messages(#"[\#(user),{"role":"tool","content":"14°C"}]"#), "messages[1].tool_call_id", nil,
                    "Missing parameter 'tool_call_id': messages with role 'tool' must have a 'tool_call_id'."),
        InvalidCase(messages(#"[\#(user),{"role":"tool","content":"x","tool_call_id":1}]"#), "messages[1].tool_call_id", "invalid_type"),
        InvalidCase(messages(#"[{"role":"function","content":"x"}]"#), "messages[0].name", "missing_required_parameter"),
        // Sampling numbers
        InvalidCase(body(#","temperature":"hot""#), "temperature", "invalid_type", "Invalid type for 'temperature': expected a decimal, but got a string instead."),
        InvalidCase(body(#","temperature":true"#), "temperature", "invalid_type", "Invalid type for 'temperature': expected a decimal, but got a boolean instead."),
        InvalidCase(body(#","temperature":2.5"#), "temperature", "decimal_above_max_value", "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got 2.5 instead."),
        InvalidCase(body(#","temperature":-0.1"#), "temperature", "decimal_below_min_value"),
        InvalidCase(body(#","top_p":1.01"#), "top_p", "decimal_above_max_value"),
        InvalidCase(body(#","top_p":-1"#), "top_p", "decimal_below_min_value"),
        InvalidCase(body(#","presence_penalty":2.1"#), "presence_penalty", "decimal_above_max_value"),
        InvalidCase(body(#","frequency_penalty":-3"#), "frequency_penalty", "decimal_below_min_value"),
        InvalidCase(body(#","frequency_penalty":[]"#), "frequency_penalty", "invalid_type"),
        InvalidCase(body(#","n":0"#), "n", "integer_below_min_value", "Invalid 'n': integer below minimum value. Expected a value >= 1, but got 0 instead."),
        InvalidCase(body(#","n":130"#), "n", "integer_above_max_value", "Invalid 'n': integer above maximum value. Expected a value <= 128, but got 130 instead."),
        InvalidCase(body(#","n":1.5"#), "n", "invalid_type", "Invalid type for 'n': expected an integer, but got a decimal instead."),
        InvalidCase(body(#","n":"2""#), "n", "invalid_type"),
        InvalidCase(body(#","n":true"#), "n", "invalid_type"),
        InvalidCase(body(#","max_tokens":0"#), "max_tokens", "integer_below_min_value"),
        InvalidCase(body(#","max_tokens":false"#), "max_tokens", "invalid_type"),
        InvalidCase(body(#","max_completion_tokens":-678"#), "max_completion_tokens", "integer_below_min_value",
                    "Invalid 'max_completion_tokens': integer below minimum value. Expected a value >= 1, but got -678 instead."),
        InvalidCase(body(#","seed":1.5"#), "seed", "invalid_type"),
        InvalidCase(body(#","seed":12345678901234567890"#), "seed", "integer_above_max_value"),
        InvalidCase(body(#","logprobs":"yes""#), "logprobs", "invalid_type"),
        InvalidCase(body(#","top_logprobs":3"#), "top_logprobs", nil, "The 'top_logprobs' parameter is only allowed when 'logprobs' is enabled."),
        InvalidCase(body(#","logprobs":false,"top_logprobs":3"#), "top_logprobs", nil),
        InvalidCase(body(#","logprobs":true,"top_logprobs":21"#), "top_logprobs", "integer_above_max_value"),
        InvalidCase(body(#","logprobs":true,"top_logprobs":-1"#), "top_logprobs", "integer_below_min_value"),
        InvalidCase(body(#","logit_bias":{"50256":150}"#), "logit_bias.50256", "decimal_above_max_value"),
        InvalidCase(body(#","logit_bias":{"50256":"x"}"#), "logit_bias.50256", "invalid_type"),
        InvalidCase(body(#","logit_bias":{"abc":1}"#), "logit_bias", "invalid_value"),
        InvalidCase(body(#","logit_bias":[1]"#), "logit_bias", "invalid_type"),
        // stop, stream, stream_options
        InvalidCase(body(#","stop":["a","b","c","d","e"]"#), "stop", "array_above_max_length",
                    "Invalid 'stop': array too long. Expected an array with maximum length 4, but got an array with length 5 instead."),
        InvalidCase(body(#","stop":5"#), "stop", "invalid_type"),
        InvalidCase(body(#","stop":["a",1]"#), "stop[1]", "invalid_type"),
        InvalidCase(body(#","stop":[]"#), "stop", "empty_array"),
        InvalidCase(body(#","stream":"true""#), "stream", "invalid_type", "Invalid type for 'stream': expected a boolean, but got a string instead."),
        InvalidCase(body(#","stream":1"#), "stream", "invalid_type"),
        InvalidCase(body(#","stream_options":{"include_usage":true}"#), "stream_options", nil,
                    "The 'stream_options' parameter is only allowed when 'stream' is enabled."),
        InvalidCase(body(#","stream":false,"stream_options":{"include_usage":true}"#), "stream_options", nil),
        InvalidCase(body(#","stream":true,"stream_options":true"#), "stream_options", "invalid_type"),
        InvalidCase(body(#","stream":true,"stream_options":{"include_usage":"yes"}"#), "stream_options.include_usage", "invalid_type"),
        // response_format
        InvalidCase(body(#","response_format":"json""#), "response_format", "invalid_type"),
        InvalidCase(body(#","response_format":{}"#), "response_format.type", "missing_required_parameter"),
        InvalidCase(body(#","response_format":{"type":"json"}"#), "response_format.type", "invalid_value",
                    "Invalid value: 'json'. Supported values are: 'text', 'json_object', and 'json_schema'."),
        InvalidCase(body(#","response_format":{"type":"json_schema"}"#), "response_format.json_schema", "missing_required_parameter"),
        InvalidCase(body(#","response_format":{"type":"json_schema","json_schema":{"schema":{}}}"#), "response_format.json_schema.name", "missing_required_parameter"),
        InvalidCase(body(#","response_format":{"type":"json_schema","json_schema":{"name":"my schema"}}"#), "response_format.json_schema.name", "invalid_value"),
        InvalidCase(body(#","response_format":{"type":"json_schema","json_schema":{"name":"s","schema":"x"}}"#), "response_format.json_schema.schema", "invalid_type"),
        // tools and tool_choice
        InvalidCase(body(#","tools":[]"#), "tools", "empty_array"),
        InvalidCase(body(#","tools":{}"#), "tools", "invalid_type"),
        InvalidCase(body(#","tools":[{"function":{"name":"f"}}]"#), "tools[0].type", "missing_required_parameter"),
        InvalidCase(body(#","tools":[{"type":"retrieval"}]"#), "tools[0].type", "invalid_value"),
        InvalidCase(body(#","tools":[{"type":"function"}]"#), "tools[0].function", "missing_required_parameter"),
        InvalidCase(body(#","tools":[{"type":"function","function":{"description":"d"}}]"#), "tools[0].function.name", "missing_required_parameter"),
        InvalidCase(body(#","tools":[{"type":"function","function":{"name":"get weather"}}]"#), "tools[0].function.name", "invalid_value",
                    "Invalid 'tools[0].function.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'."),
        InvalidCase(body(#","tools":[{"type":"function","function":{"name":"\#(String(repeating: "a", count: 65))"}}]"#), "tools[0].function.name", "string_above_max_length"),
        InvalidCase(body(#","tools":[{"type":"function","function":{"name":""}}]"#), "tools[0].function.name", "empty_string"),
        InvalidCase(body(#","tools":[{"type":"function","function":{"name":"f","parameters":"x"}}]"#), "tools[0].function.parameters", "invalid_type"),
        InvalidCase(body(#","tools":[{"type":"function","function":{"name":"f","strict":"yes"}}]"#), "tools[0].function.strict", "invalid_type"),
        InvalidCase(body(#","tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"sometimes""#), "tool_choice", "invalid_value",
                    "Invalid value: 'sometimes'. Supported values are: 'none', 'auto', and 'required'."),
        InvalidCase(body(#","tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function"}"#), "tool_choice.function", "missing_required_parameter"),
        InvalidCase(body(#","tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{}}"#), "tool_choice.function.name", "missing_required_parameter"),
        InvalidCase(body(#","tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":5"#), "tool_choice", "invalid_type"),
        InvalidCase(body(#","tool_choice":"auto""#), "tool_choice", nil),
        InvalidCase(body(#","parallel_tool_calls":null"#), "parallel_tool_calls", "invalid_type", "Invalid type for 'parallel_tool_calls': expected a boolean, but got null instead."),
        InvalidCase(body(#","user":5"#), "user", "invalid_type"),
        InvalidCase(body(#","functions":[{"name":"a b"}]"#), "functions[0].name", "invalid_value"),
        // Fields the cache key leaves out: checked here or never (a cache hit reaches no upstream)
        InvalidCase(body(#","metadata":"not-an-object""#), "metadata", "invalid_type",
                    "Invalid type for 'metadata': expected an object, but got a string instead."),
        InvalidCase(body(#","metadata":["k","v"]"#), "metadata", "invalid_type"),
        InvalidCase(body(#","metadata":{"k":1}"#), "metadata.k", "invalid_type",
                    "Invalid type for 'metadata.k': expected a string, but got an integer instead."),
        InvalidCase(body(#","metadata":{"k":null}"#), "metadata.k", "invalid_type"),
        InvalidCase(body(",\"metadata\":{\((0..<17).map { #""k\#($0)":"v""# }.joined(separator: ","))}"), "metadata", "object_above_max_properties",
                    "Invalid 'metadata': too many properties. Expected an object with at most 16 properties, but got an object with 17 properties instead."),
        InvalidCase(body(#","metadata":{"\#(String(repeating: "k", count: 65))":"v"}"#), "metadata", "property_name_above_max_length",
                    "Invalid property name in 'metadata': string too long. Expected a string with maximum length 64, but got a string with length 65 instead."),
        InvalidCase(body(#","metadata":{"k":"\#(String(repeating: "v", count: 513))"}"#), "metadata.k", "string_above_max_length",
                    "Invalid 'metadata.k': string too long. Expected a string with maximum length 512, but got a string with length 513 instead."),
        InvalidCase(body(#","store":"yes""#), "store", "invalid_type", "Invalid type for 'store': expected a boolean, but got a string instead."),
        InvalidCase(body(#","store":1"#), "store", "invalid_type"),
        InvalidCase(body(#","service_tier":42"#), "service_tier", "invalid_type"),
        InvalidCase(body(#","prompt_cache_key":5"#), "prompt_cache_key", "invalid_type",
                    "Invalid type for 'prompt_cache_key': expected a string, but got an integer instead."),
        InvalidCase(body(#","prompt_cache_key":{"k":"v"}"#), "prompt_cache_key", "invalid_type"),
        InvalidCase(body(#","safety_identifier":["x"]"#), "safety_identifier", "invalid_type",
                    "Invalid type for 'safety_identifier': expected a string, but got an array instead."),
        InvalidCase(body(#","safety_identifier":false"#), "safety_identifier", "invalid_type"),
        // Output options
        InvalidCase(body(#","reasoning_effort":3"#), "reasoning_effort", "invalid_type",
                    "Invalid type for 'reasoning_effort': expected a string, but got an integer instead."),
        InvalidCase(body(#","verbosity":"x""#), "verbosity", "invalid_value", "Invalid value: 'x'. Supported values are: 'low', 'medium', and 'high'."),
        InvalidCase(body(#","verbosity":true"#), "verbosity", "invalid_type"),
        InvalidCase(body(#","modalities":"text""#), "modalities", "invalid_type",
                    "Invalid type for 'modalities': expected an array, but got a string instead."),
        InvalidCase(body(#","modalities":["text","video"]"#), "modalities[1]", "invalid_value",
                    "Invalid value: 'video'. Supported values are: 'text' and 'audio'."),
        InvalidCase(body(#","modalities":[1]"#), "modalities[0]", "invalid_type"),
        InvalidCase(body(#","audio":"alloy""#), "audio", "invalid_type"),
        InvalidCase(body(#","audio":{"format":"mp3"}"#), "audio.voice", "missing_required_parameter"),
        InvalidCase(body(#","audio":{"voice":7,"format":"mp3"}"#), "audio.voice", "invalid_type"),
        InvalidCase(body(#","audio":{"voice":{},"format":"mp3"}"#), "audio.voice.id", "missing_required_parameter"),
        InvalidCase(body(#","audio":{"voice":"alloy"}"#), "audio.format", "missing_required_parameter"),
        InvalidCase(body(#","audio":{"voice":"alloy","format":"ogg"}"#), "audio.format", "invalid_value",
                    "Invalid value: 'ogg'. Supported values are: 'wav', 'aac', 'mp3', 'flac', 'opus', and 'pcm16'."),
        InvalidCase(body(#","prediction":"draft""#), "prediction", "invalid_type"),
        InvalidCase(body(#","prediction":{"content":"x"}"#), "prediction.type", "missing_required_parameter"),
        InvalidCase(body(#","prediction":{"type":"text","content":"x"}"#), "prediction.type", "invalid_value",
                    "Invalid value: 'text'. Supported values are: 'content'."),
        InvalidCase(body(#","prediction":{"type":"content"}"#), "prediction.content", "missing_required_parameter"),
        InvalidCase(body(#","prediction":{"type":"content","content":5}"#), "prediction.content", "invalid_type"),
        InvalidCase(body(#","prediction":{"type":"content","content":[]}"#), "prediction.content", "empty_array"),
        InvalidCase(body(#","prediction":{"type":"content","content":[{"type":"image_url","image_url":{"url":"u"}}]}"#),
                    "prediction.content[0].type", "invalid_value"),
        InvalidCase(body(#","web_search_options":null"#), "web_search_options", "invalid_type",
                    "Invalid type for 'web_search_options': expected an object, but got null instead."),
        InvalidCase(body(#","web_search_options":"on""#), "web_search_options", "invalid_type"),
        InvalidCase(body(#","web_search_options":{"search_context_size":"huge"}"#), "web_search_options.search_context_size", "invalid_value"),
        InvalidCase(body(#","web_search_options":{"search_context_size":2}"#), "web_search_options.search_context_size", "invalid_type"),
        InvalidCase(body(#","web_search_options":{"user_location":"London"}"#), "web_search_options.user_location", "invalid_type"),
        InvalidCase(body(#","web_search_options":{"user_location":{"type":"exact","approximate":{}}}"#),
                    "web_search_options.user_location.type", "invalid_value"),
        InvalidCase(body(#","web_search_options":{"user_location":{"type":"approximate"}}"#),
                    "web_search_options.user_location.approximate", "missing_required_parameter"),
        InvalidCase(body(#","web_search_options":{"user_location":{"type":"approximate","approximate":{"city":5}}}"#),
                    "web_search_options.user_location.approximate.city", "invalid_type"),
    ])
    func rejectsLikeOpenAI(_ c: InvalidCase) throws {
        let result = try validate(c.body)
        guard case .failure(let error) = result else {
            Issue.record("accepted an invalid body")
            return
        }
        #expect(error.status == 400)
        #expect(error.type == "invalid_request_error")
        #expect(error.param == c.param)
        #expect(error.code == c.code)
        if let message = c.message { #expect(error.message == message) }
    }

    @Test func errorBodyHasOpenAIShape() throws {
        let error = try #require(try validate(body(#","n":0"#)).failure)
        let json = try JSONParser.parse(error.body)
        #expect(json["error"]?["param"] == "n")
        #expect(json["error"]?["code"] == "integer_below_min_value")
        #expect(json["error"]?["type"] == "invalid_request_error")
    }
}

extension Result {
    var failure: Failure? { if case .failure(let e) = self { return e } else { return nil } }
}

@Suite struct MediaTypeTests {
    @Test(arguments: [
        ("application/json", true), ("Application/JSON", true), ("application/json; charset=utf-8", true),
        ("  application/json ;charset=UTF-8", true), ("application/vnd.api+json", true), ("text/x+JSON", true),
        ("application/jsonp", false), ("text/json-ish", false), ("application/x-www-form-urlencoded", false),
        ("text/plain", false), ("", false), ("json", false), ("application\u{0F}json", false), ("+json", true),
        ("application/json\t", true), ("xapplication/json", false),
    ])
    func jsonMediaTypes(value: String, isJSON: Bool) {
        #expect(Gateway.isJSONMediaType(value) == isJSON)
    }

    @Test func trimmingSpacesAndTabs() {
        #expect("  a b\t".trimmingSpacesAndTabs() == "a b")
        #expect("\t \t".trimmingSpacesAndTabs() == "")
        #expect("".trimmingSpacesAndTabs() == "")
        #expect("x".trimmingSpacesAndTabs() == "x")
        #expect(" é ".trimmingSpacesAndTabs() == "é")
        #expect("\u{A0}x\u{A0}".trimmingSpacesAndTabs() == "\u{A0}x\u{A0}", "only HTTP whitespace is trimmed")
    }
}
