import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
/// Readable, deterministic filler text for the mock provider: sentences assembled from a small
/// vocabulary by a PRNG seeded from a hash of the request, so the same prompt always gets the
/// same answer and different prompts get visibly different ones.
public enum MockText {
    /// FNV-1a, 64 bit: a stable hash (Swift's `Hasher` is seeded per process).
    public static func fnv1a(_ bytes: some Sequence<UInt8>, seed: UInt64 = 0xcbf2_9ce4_8422_2325) -> UInt64 {
        var hash = seed
        for b in bytes {
            hash ^= UInt64(b)
            hash &*= 0x0000_0100_0000_01b3
        }
        return hash
    }

    /// SplitMix64: tiny, fast, and good enough to pick words.
    public struct Generator: RandomNumberGenerator, Sendable {
        package var state: UInt64
        public init(seed: UInt64) { state = seed }
        public mutating func next() -> UInt64 {
            state &+= 0x9e37_79b9_7f4a_7c15
            var z = state
            z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
            z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
            return z ^ (z >> 31)
        }
    }

    package static let nouns = ["gateway", "request", "model", "answer", "system", "cache", "pattern", "network", "signal",
                        "garden", "river", "library", "engine", "message", "window", "journey", "theory", "harbor",
                        "process", "question", "lantern", "market", "forest", "circuit", "melody", "compass"]
    package static let adjectives = ["quiet", "steady", "bright", "careful", "simple", "curious", "distant", "gentle", "rapid",
                             "clever", "patient", "modern", "hidden", "robust", "elegant", "ancient", "narrow", "vivid",
                             "useful", "subtle", "open", "early", "honest", "ordinary"]
    package static let verbs = ["improves", "connects", "measures", "describes", "supports", "reflects", "shapes", "follows",
                        "balances", "explains", "guides", "reveals", "carries", "protects", "extends", "combines",
                        "tracks", "simplifies", "anticipates", "organizes", "invites", "answers"]
    package static let adverbs = ["quickly", "carefully", "often", "rarely", "quietly", "gradually", "clearly", "usually",
                          "eventually", "naturally", "openly", "steadily"]
    package static let determiners = ["the", "a", "every", "each", "this", "one", "another"]
    package static let prepositions = ["with", "across", "beyond", "under", "near", "through", "without", "around", "behind"]
    package static let openers = ["In practice", "Meanwhile", "For example", "As a result", "Over time", "In short",
                          "By contrast", "Still", "Later", "At first"]

    package enum Slot { case noun, adjective, verb, adverb, determiner, preposition, opener }

    /// Sentence shapes, 5 to 10 words each.
    package static let shapes: [[Slot]] = [
        [.determiner, .adjective, .noun, .verb, .determiner, .adjective, .noun],
        [.opener, .determiner, .noun, .verb, .determiner, .noun, .preposition, .determiner, .noun],
        [.determiner, .noun, .adverb, .verb, .determiner, .adjective, .noun],
        [.determiner, .adjective, .noun, .verb, .adverb],
        [.opener, .determiner, .adjective, .noun, .verb, .determiner, .noun],
        [.determiner, .noun, .preposition, .determiner, .noun, .verb, .determiner, .adjective, .noun],
        [.determiner, .adjective, .adjective, .noun, .adverb, .verb, .determiner, .noun],
    ]

    /// About `20...50` words (never fewer than 15 nor more than 60) in whole sentences.
    public static func paragraph(seed: UInt64) -> String {
        var rng = Generator(seed: seed)
        let target = 20 + Int(rng.next() % 31)
        var words = 0
        var sentences: [String] = []
        while words < target {
            let sentence = self.sentence(&rng)
            words += sentence.count
            sentences.append(sentence.joined(separator: " "))
        }
        return sentences.joined(separator: " ")
    }

    package static func sentence(_ rng: inout Generator) -> [String] {
        let shape = shapes[Int(rng.next() % UInt64(shapes.count))]
        var words: [String] = []
        for slot in shape {
            switch slot {
            case .noun: words.append(pick(nouns, &rng))
            case .adjective: words.append(pick(adjectives, &rng))
            case .verb: words.append(pick(verbs, &rng))
            case .adverb: words.append(pick(adverbs, &rng))
            case .determiner: words.append(pick(determiners, &rng))
            case .preposition: words.append(pick(prepositions, &rng))
            case .opener: words.append(contentsOf: (pick(openers, &rng) + ",").split(separator: " ").map(String.init))
            }
        }
        for i in words.indices.dropLast() where words[i] == "a" {
            if let first = words[i + 1].first, "aeiou".contains(first) { words[i] = "an" }
        }
        words[0] = words[0].prefix(1).uppercased() + words[0].dropFirst()
        words[words.count - 1] += rng.next() % 5 == 0 ? "!" : "."
        return words
    }

    package static func pick(_ list: [String], _ rng: inout Generator) -> String {
        list[Int(rng.next() % UInt64(list.count))]
    }

    /// A plausible value for a JSON-schema-described argument: `enum` and `const` pick a listed
    /// value; `$ref`s into the root's `$defs` / `definitions` are followed; of a union (`anyOf`,
    /// `oneOf`, a `type` list) the first non-null member is used; arrays get one item. Schemas
    /// deeper than `maxDepth` (a recursive model) end in the smallest valid value, and so does
    /// everything once the `workBudget` is spent.
    package static func value(for schema: JSON?, root: JSON?, _ rng: inout Generator, depth: Int = 0) -> JSON {
        var budget = workBudget(root ?? schema)
        return value(for: schema, root: root, &rng, depth: depth, budget: &budget)
    }

    package static let maxDepth = 8

    /// How much one made-up value may cost, in schema members looked at and answer nodes made:
    /// twice the schema's own weight and a fixed allowance, so any schema gets a full answer once
    /// and the work stays linear in its size. Depth alone does not bound it: properties that each
    /// `$ref` their own definition make width^depth values (16 of them, 600 bytes of schema, took
    /// 0.5 s; 64 would take hours), and a large schema object is scanned at every visit. With the
    /// budget spent, values are null (the objects under way still get each property, null).
    package static func workBudget(_ schema: JSON?) -> Int {
        100_000 + 2 * (schema.map(weight) ?? 0)
    }

    /// An arguments object with a value for each property of a function's `parameters` schema.
    package static func arguments(for schema: JSON?, root: JSON? = nil, _ rng: inout Generator, depth: Int = 0) -> JSONObject {
        var budget = workBudget(root ?? schema)
        return arguments(for: schema, root: root, &rng, depth: depth, budget: &budget)
    }

    private static func value(for schema: JSON?, root: JSON?, _ rng: inout Generator, depth: Int,
                              budget: inout Int) -> JSON {
        guard let schema, depth < maxDepth, budget > 0 else { return .null }
        budget -= 1 + (schema.objectValue?.count ?? 0)  // the lookups below scan the schema's members
        if let ref = schema["$ref"]?.stringValue {
            return value(for: resolve(ref, in: root, budget: &budget), root: root, &rng, depth: depth + 1, budget: &budget)
        }
        if let constant = schema["const"] {
            budget -= weight(constant)  // copied into the answer at every visit
            return constant
        }
        if let options = schema["enum"]?.arrayValue, !options.isEmpty {
            let option = options[Int(rng.next() % UInt64(options.count))]
            budget -= weight(option)
            return option
        }
        if let union = (schema["anyOf"] ?? schema["oneOf"])?.arrayValue {
            var member = union.first
            for candidate in union {
                budget -= 1 + (candidate.objectValue?.count ?? 0)
                if candidate["type"]?.stringValue != "null" { member = candidate; break }
            }
            return value(for: member, root: root, &rng, depth: depth + 1, budget: &budget)
        }
        let typeList = schema["type"]?.arrayValue
        budget -= typeList?.count ?? 0
        let type = schema["type"]?.stringValue
            ?? typeList?.compactMap(\.stringValue).first { $0 != "null" }
            ?? (schema["properties"] != nil ? "object" : nil)
        switch type {
        case "integer": return .int(Int(rng.next() % 100))
        case "number": return .double(Double(rng.next() % 1000) / 10)
        case "boolean": return .bool(rng.next() & 1 == 1)
        case "null": return .null
        case "array":
            guard let items = schema["items"], depth + 1 < maxDepth else { return .array([]) }
            return .array([value(for: items, root: root, &rng, depth: depth + 1, budget: &budget)])
        case "object": return .object(arguments(for: schema, root: root, &rng, depth: depth + 1, budget: &budget))
        default: return .string(pick(nouns, &rng))
        }
    }

    /// What copying `value` into an answer costs: its nodes and the bytes of its strings.
    package static func weight(_ value: JSON) -> Int {
        switch value {
        case .string(let s), .number(let s): return 1 + s.utf8.count
        case .array(let items): return items.reduce(1) { $0 + weight($1) }
        case .object(let object): return object.reduce(1) { $0 + $1.key.utf8.count + weight($1.value) }
        default: return 1
        }
    }

    private static func arguments(for schema: JSON?, root: JSON?, _ rng: inout Generator, depth: Int,
                                  budget: inout Int) -> JSONObject {
        guard let properties = schema?["properties"]?.objectValue else { return JSONObject() }
        var out = JSONObject()
        for (key, property) in properties {
            budget -= 1 + key.utf8.count  // charged even past the depth limit: the member is written
            out.append(key, value(for: property, root: root ?? schema, &rng, depth: depth, budget: &budget))
        }
        return out
    }

    /// The schema a local `$ref` (`#/$defs/Step`, `#/definitions/Step`) points to.
    private static func resolve(_ ref: String, in root: JSON?, budget: inout Int) -> JSON? {
        guard ref.hasPrefix("#") else { return nil }
        budget -= ref.utf8.count
        guard budget > 0 else { return nil }
        var node = root
        for token in ref.dropFirst().split(separator: "/") {
            guard budget > 0 else { return nil }
            budget -= 1 + (node?.objectValue?.count ?? 0)  // the lookup scans the node's members
            let name = token.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            node = node?[name]
        }
        return node
    }
}
