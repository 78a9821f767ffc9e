import UltraGateProviders
import UltraGateCache
import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
/// One object of the config file as `ConfigLoader` reads it: typed access to its keys, with
/// messages naming each key's full path (`providers.openai.retry.max_attempts`).
///
/// Reading a key declares it: `ConfigLoader` reads every section inside `section(_:_:)` or
/// `eachSection(_:_:)`, which afterwards refuse any key of that object nothing read. The schema is
/// therefore the reading code itself, at every level, and a new setting is the one line that
/// reads it. Free-form values (`models.NAME.params`, `headers`, `prompts`) are read whole with
/// `object(_:)`, so their inner keys are not checked here.
package final class ConfigSection {
    /// The dotted path of this object (empty for the top level).
    package let path: String
    private let object: JSONObject
    private var known: Set<String> = []

    package init(_ object: JSONObject, path: String) {
        self.object = object
        self.path = path
    }

    /// The full dotted path of `key` in this object.
    package func path(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// The value of `key` (nil when absent or null), marking the key known.
    package func value(_ key: String) -> JSON? {
        known.insert(key)
        guard let v = object[key], !v.isNull else { return nil }
        return v
    }

    package func string(_ key: String) throws -> String? {
        guard let v = value(key) else { return nil }
        guard let s = v.stringValue else { throw ConfigError("\(path(key)) must be a string") }
        return s
    }

    /// Every number in the config is a duration, size, price or count: finite and not negative.
    package func double(_ key: String) throws -> Double? {
        guard let v = value(key) else { return nil }
        guard let d = v.doubleValue, d.isFinite, d >= 0, d <= 1e9 else {
            throw ConfigError("\(path(key)) must be a number from 0 to 1e9")
        }
        return d
    }

    package func int(_ key: String) throws -> Int? {
        guard let v = value(key) else { return nil }
        guard let i = v.intValue else { throw ConfigError("\(path(key)) must be an integer") }
        return i
    }

    package func bool(_ key: String) throws -> Bool? {
        guard let v = value(key) else { return nil }
        guard let b = v.boolValue else { throw ConfigError("\(path(key)) must be a boolean") }
        return b
    }

    package func stringArray(_ key: String) throws -> [String]? {
        guard let v = value(key) else { return nil }
        guard let a = v.arrayValue, a.allSatisfy({ $0.stringValue != nil }) else {
            throw ConfigError("\(path(key)) must be an array of strings")
        }
        return a.compactMap(\.stringValue)
    }

    /// A free-form object, taken whole: its keys are not checked.
    package func object(_ key: String) throws -> JSONObject? {
        guard let v = value(key) else { return nil }
        guard let o = v.objectValue else { throw ConfigError("\(path(key)) must be an object") }
        return o
    }

    /// A free-form object whose values must all be strings (`headers`, `prompts`), in file order.
    package func stringMap(_ key: String) throws -> [(key: String, value: String)]? {
        guard let o = try object(key) else { return nil }
        return try o.map { name, value in
            guard let s = value.stringValue else { throw ConfigError("\(path(key)).\(name) must be a string") }
            return (name, s)
        }
    }

    /// Reads the nested object `key` (when present) with `read`, then refuses its unread keys.
    package func section(_ key: String, _ body: (ConfigSection) throws -> Void) throws {
        guard let o = try object(key) else { return }
        try ConfigSection(o, path: path(key)).readAll(body)
    }

    /// Reads each entry of the name → object map `key` (`providers`, `models`) in file order,
    /// each as a checked section of its own.
    package func eachSection(_ key: String, _ body: (String, ConfigSection) throws -> Void) throws {
        guard let o = try object(key) else { return }
        for (name, value) in o {
            let entryPath = "\(path(key)).\(name)"
            guard let entry = value.objectValue else { throw ConfigError("\(entryPath) must be an object") }
            try ConfigSection(entry, path: entryPath).readAll { try body(name, $0) }
        }
    }

    /// Runs `body` on this section, then refuses the first key it did not read.
    package func readAll(_ body: (ConfigSection) throws -> Void) throws {
        try body(self)
        for key in object.keys where !known.contains(key) {
            let owner = path.isEmpty ? "the top level" : "`\(path)`"
            throw ConfigError("unknown config key `\(self.path(key))`; \(owner) takes \(known.sorted().joined(separator: ", "))")
        }
    }
}
