/// `--name value` options and `--flag` switches after a subcommand.
public struct Arguments: Sendable {
    public let command: String
    let options: [String: String]
    let flags: Set<String>

    /// Parses `arguments` (without the program name); `switches` take no value.
    public init(_ arguments: [String], switches: Set<String> = []) throws {
        guard let command = arguments.first, !command.hasPrefix("-") else {
            throw BenchError("no subcommand given")
        }
        self.command = command
        var options: [String: String] = [:]
        var flags: Set<String> = []
        var rest = arguments.dropFirst()[...]
        while let argument = rest.popFirst() {
            guard argument.hasPrefix("--") else { throw BenchError("unexpected argument \(argument)") }
            let name = String(argument.dropFirst(2))
            if switches.contains(name) {
                flags.insert(name)
            } else {
                guard let value = rest.popFirst() else { throw BenchError("\(argument) needs a value") }
                options[name] = value
            }
        }
        self.options = options
        self.flags = flags
    }

    public func string(_ name: String, default fallback: String? = nil) throws -> String {
        guard let value = options[name] ?? fallback else { throw BenchError("--\(name) is required") }
        return value
    }

    public func int(_ name: String, default fallback: Int? = nil) throws -> Int {
        guard let text = options[name] else {
            guard let fallback else { throw BenchError("--\(name) is required") }
            return fallback
        }
        guard let value = Int(text.replacingOccurrences(of: "_", with: "")) else {
            throw BenchError("--\(name) must be a whole number, not \(text)")
        }
        return value
    }

    public func double(_ name: String, default fallback: Double) throws -> Double {
        guard let text = options[name] else { return fallback }
        guard let value = Double(text) else { throw BenchError("--\(name) must be a number, not \(text)") }
        return value
    }

    public func optional(_ name: String) -> String? { options[name] }

    public func flag(_ name: String) -> Bool { flags.contains(name) }
}
