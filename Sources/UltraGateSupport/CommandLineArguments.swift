/// A command line that cannot be used: the message says why; the exit code is 2.
public struct UsageError: Error, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// What every command-line parser of the package shares.
public enum CommandLineArguments {
    /// `--flag=value` becomes `--flag`, `value`, so every parser handles one form.
    public static func splittingFlagValues(_ arguments: [String]) -> [String] {
        arguments.flatMap { arg -> [String] in
            guard arg.hasPrefix("--"), let eq = arg.firstIndex(of: "=") else { return [arg] }
            return [String(arg[..<eq]), String(arg[arg.index(after: eq)...])]
        }
    }
}

/// The flags of one command line that take a single value, and which of them were seen: one
/// given twice is refused (exit 2) rather than its last value silently winning.
package struct SeenFlags {
    /// Each spelling to the flag's canonical (first) spelling.
    private let canonical: [String: String]
    private let hint: String
    private var seen: Set<String> = []

    /// `flags`: each single-value flag's spellings, canonical first. `hint` ends the message.
    package init(_ flags: [[String]], hint: String = "") {
        var canonical: [String: String] = [:]
        for names in flags { for name in names { canonical[name] = names[0] } }
        self.canonical = canonical
        self.hint = hint
    }

    /// Notes a flag of the command line, refusing a second single-value one of the same kind.
    package mutating func note(_ flag: String) throws(UsageError) {
        guard let name = canonical[flag] else { return }
        guard seen.insert(name).inserted else { throw UsageError("\(name) was given more than once; give it once\(hint)") }
    }
}
