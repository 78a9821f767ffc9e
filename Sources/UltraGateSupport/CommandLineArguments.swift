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
