import UltraGateProviders
import UltraGateCache
import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
/// One ensemble to run: which models answer, who synthesizes, how, and within what limits.
/// Built from an `ensemble` model in the config, from a request's `ultra` object, or both (the
/// request's fields override the configured ones).
public struct EnsembleSpec: Sendable {
    /// The name reported as the answer's `model`.
    public var name: String
    /// Member route names, in order; a repeated name is another sample of that model.
    public var members: [String]
    public var synthesizer: String?
    public var backupSynthesizer: String?
    public var pattern: EnsemblePattern
    /// Seconds after which members still running are cancelled.
    public var deadline: Double?
    /// Proceed as soon as this many members answered ("first k of n").
    public var minAnswers: Int?
    public var prompts: EnsemblePrompts

    public init(name: String, members: [String], synthesizer: String? = nil, backupSynthesizer: String? = nil,
                pattern: EnsemblePattern = .synthesize, deadline: Double? = nil, minAnswers: Int? = nil,
                prompts: EnsemblePrompts? = nil) {
        self.name = name
        self.members = members
        self.synthesizer = synthesizer
        self.backupSynthesizer = backupSynthesizer
        self.pattern = pattern
        self.deadline = deadline
        self.minAnswers = minAnswers
        self.prompts = prompts ?? EnsemblePrompts.defaultSet
    }

    /// The spec of a configured ensemble model.
    public init(settings: ModelSettings) throws(GatewayError) {
        let pattern = try EnsembleSpec.pattern(settings.pattern, param: "models.\(settings.name).pattern")
        self.init(name: settings.name, members: settings.ensemble ?? [], synthesizer: settings.synthesizer,
                  backupSynthesizer: settings.backupSynthesizer, pattern: pattern, deadline: settings.deadline,
                  minAnswers: settings.minAnswers, prompts: try EnsemblePrompts(overrides: settings.prompts))
    }

    /// The ensemble a chat request asks for, or nil when it is a plain single-model request.
    /// `model` is the request's model; `ultra` its `ultra` field. Unknown member or synthesizer
    /// names are a 404, malformed fields a 400 naming the `ultra.*` parameter.
    /// More members than this in one request is refused: each one is a paid upstream call.
    public static let maxMembers = 16

    public static func resolve(model: String, ultra: JSON?, router: ModelRouter) throws(GatewayError) -> EnsembleSpec? {
        let configured = router.ensemble(named: model)
        let ultra = ultra?.isNull == true ? nil : ultra
        guard ultra != nil || configured != nil else { return nil }
        var spec: EnsembleSpec
        if let configured {
            spec = try EnsembleSpec(settings: configured)
        } else {
            // An ad-hoc ensemble named after the request's model, which synthesizes when it is a model.
            spec = EnsembleSpec(name: model, members: [],
                                synthesizer: router.route(named: model) != nil ? model : nil)
        }
        if let ultra, !ultra.isNull {
            guard let object = ultra.objectValue else {
                throw .invalidRequest("`ultra` must be an object, not \(ultra.typeName).", param: "ultra")
            }
            try spec.apply(object, router: router)
        }
        guard !spec.members.isEmpty else {
            throw .invalidRequest("An ensemble needs at least one model in `ultra.models`.", param: "ultra.models")
        }
        let membersParam = configured != nil && ultra?["models"] == nil ? "model" : "ultra.models"
        for member in spec.members {
            // Checked first, as for `model`: the name is the ensemble's even where it could also
            // resolve as a model. Members are called as single models, so it cannot be one.
            if router.ensemble(named: member) != nil {
                throw .invalidRequest("`\(member)` is an ensemble; an ensemble cannot be a member of an ensemble.",
                                      param: membersParam)
            }
            guard router.route(named: member) != nil else {
                var error = GatewayError.modelNotFound(member)
                error.param = membersParam
                throw error
            }
        }
        if let min = spec.minAnswers, min < 1 || min > spec.members.count {
            throw .invalidRequest("`min_answers` must be between 1 and the number of models (\(spec.members.count)).",
                                  param: "ultra.min_answers")
        }
        return spec
    }

    /// Overrides from a request's `ultra` object.
    package mutating func apply(_ ultra: JSONObject, router: ModelRouter) throws(GatewayError) {
        for (key, value) in ultra {
            let param = "ultra.\(key)"
            switch key {
            case "models":
                guard let items = value.arrayValue, !items.isEmpty else {
                    throw .invalidRequest("`ultra.models` must be a non-empty array of model names.", param: param)
                }
                guard items.count <= EnsembleSpec.maxMembers else {
                    throw .invalidRequest("`ultra.models` may name at most \(EnsembleSpec.maxMembers) models, not \(items.count).",
                                          param: param)
                }
                var names: [String] = []
                for item in items {
                    guard let name = item.stringValue, !name.isEmpty else {
                        throw .invalidRequest("`ultra.models` must contain model names (strings).", param: param)
                    }
                    names.append(name)
                }
                members = names
            case "synthesizer", "backup_synthesizer":
                guard let name = value.stringValue else {
                    throw .invalidRequest("`\(param)` must be a model name.", param: param)
                }
                if router.ensemble(named: name) != nil {
                    throw .invalidRequest("`\(name)` is an ensemble; `\(param)` must be a model.", param: param)
                }
                guard router.route(named: name) != nil else {
                    var error = GatewayError.modelNotFound(name)
                    error.param = param
                    throw error
                }
                if key == "synthesizer" { synthesizer = name } else { backupSynthesizer = name }
            case "pattern":
                guard let text = value.stringValue else {
                    throw .invalidRequest("`ultra.pattern` must be a string.", param: param)
                }
                pattern = try EnsembleSpec.pattern(text, param: param)
            case "min_answers":
                guard let n = value.intValue else { throw .invalidRequest("`ultra.min_answers` must be an integer.", param: param) }
                minAnswers = n
            case "deadline":
                guard let seconds = value.doubleValue, seconds > 0, seconds <= 3600 else {
                    throw .invalidRequest("`ultra.deadline` must be a number of seconds between 0 and 3600.", param: param)
                }
                deadline = seconds
            default:
                throw .invalidRequest("Unknown field `\(param)`; known: models, synthesizer, backup_synthesizer, pattern, min_answers, deadline.",
                                      param: param)
            }
        }
    }

    package static func pattern(_ text: String?, param: String) throws(GatewayError) -> EnsemblePattern {
        guard let text else { return .synthesize }
        guard let pattern = EnsemblePattern(rawValue: text) else {
            throw .invalidRequest("Unknown ensemble pattern `\(text)`; use one of: \(EnsemblePattern.allCases.map(\.rawValue).joined(separator: ", ")).",
                                  param: param)
        }
        return pattern
    }

    /// What the ensemble's cache key covers besides the request: everything that changes the answer.
    public var cacheDescriptor: JSON {
        var object: JSONObject = [
            "members": .array(members.map(JSON.string)),
            "pattern": .string(pattern.rawValue),
            "synthesizer": synthesizer.map(JSON.string) ?? .null,
            "backup_synthesizer": backupSynthesizer.map(JSON.string) ?? .null,
            "min_answers": minAnswers.map(JSON.int) ?? .null,
            "deadline": deadline.map(JSON.double) ?? .null,
        ]
        if prompts != EnsemblePrompts.defaultSet {
            object["prompts"] = .object(JSONObject(prompts.templates.sorted { $0.key < $1.key }.map { (key: $0.key, value: JSON.string($0.value)) }))
        }
        return .object(object)
    }

    /// The request as the ensemble cache key sees it: `ultra` replaced by the resolved spec.
    public func cacheRequest(_ body: JSONObject) -> JSONObject {
        var request = body
        request["ultra"] = cacheDescriptor
        request["stream"] = nil
        request["stream_options"] = nil
        return request
    }

    /// The route part of the ensemble's cache key (never equal to a provider route).
    public var cacheRoute: String { "ensemble/\(name)" }
}

extension EnsemblePrompts {
    package static let defaultSet: EnsemblePrompts = try! EnsemblePrompts()
}
