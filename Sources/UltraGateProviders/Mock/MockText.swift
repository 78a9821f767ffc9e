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
    /// deeper than `maxDepth` (a recursive model) end in the smallest valid value.
    package static func value(for schema: JSON?, root: JSON?, _ rng: inout Generator, depth: Int = 0) -> JSON {
        guard let schema, depth < maxDepth else { return .null }
        if let ref = schema["$ref"]?.stringValue {
            return value(for: resolve(ref, in: root), root: root, &rng, depth: depth + 1)
        }
        if let constant = schema["const"] { return constant }
        if let options = schema["enum"]?.arrayValue, !options.isEmpty {
            return options[Int(rng.next() % UInt64(options.count))]
        }
        if let union = (schema["anyOf"] ?? schema["oneOf"])?.arrayValue {
            let member = union.first { $0["type"]?.stringValue != "null" } ?? union.first
            return value(for: member, root: root, &rng, depth: depth + 1)
        }
        let type = schema["type"]?.stringValue
            ?? schema["type"]?.arrayValue?.compactMap(\.stringValue).first { $0 != "null" }
            ?? (schema["properties"] != nil ? "object" : nil)
        switch type {
        case "integer": return .int(Int(rng.next() % 100))
        case "number": return .double(Double(rng.next() % 1000) / 10)
        case "boolean": return .bool(rng.next() & 1 == 1)
        case "null": return .null
        case "array":
            guard let items = schema["items"], depth + 1 < maxDepth else { return .array([]) }
            return .array([value(for: items, root: root, &rng, depth: depth + 1)])
        case "object": return .object(arguments(for: schema, root: root, &rng, depth: depth + 1))
        default: return .string(pick(nouns, &rng))
        }
    }

    package static let maxDepth = 8

    /// An arguments object with a value for each property of a function's `parameters` schema.
    package static func arguments(for schema: JSON?, root: JSON? = nil, _ rng: inout Generator, depth: Int = 0) -> JSONObject {
        var out = JSONObject()
        for (key, property) in schema?["properties"]?.objectValue ?? JSONObject() {
            out.append(key, value(for: property, root: root ?? schema, &rng, depth: depth))
        }
        return out
    }

    /// The schema a local `$ref` (`#/$defs/Step`, `#/definitions/Step`) points to.
    package static func resolve(_ ref: String, in root: JSON?) -> JSON? {
        guard ref.hasPrefix("#") else { return nil }
        var node = root
        for token in ref.dropFirst().split(separator: "/") {
            let name = token.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            node = node?[name]
        }
        return node
    }
}
