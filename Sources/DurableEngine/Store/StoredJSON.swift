import Foundation

/// The JSON spelling of everything Durable stores as TEXT: inputs, results,
/// contexts and errors. Keys are sorted, so equal values give equal text (which is
/// how an idempotency key's input is compared).
package enum StoredJSON {
    // Foundation's coders keep their options behind a lock and make a fresh
    // internal coder per call, so one shared instance serves every thread.
    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()
    private static let decoder = JSONDecoder()

    package static func encode<T: Encodable>(_ value: T) throws -> String {
        // Integers and plain strings, the commonest inputs and results, spelled
        // directly (the same text JSONEncoder writes) without a coder's cost.
        if let integer = value as? Int { return String(integer) }
        if let string = value as? String, string.unicodeScalars.allSatisfy(isPlain) { return "\"" + string + "\"" }
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    package static func decode<T: Decodable>(_ type: T.Type, from text: String) throws -> T {
        if T.self == Int.self, let integer = Int(text) as? T { return integer }
        if T.self == String.self, text.count >= 2, text.first == "\"", text.last == "\"",
            !text.contains("\\"), let string = String(text.dropFirst().dropLast()) as? T
        {
            return string
        }
        return try decoder.decode(type, from: Data(text.utf8))
    }

    /// A value's encoding as a JSON tree, to be stored nested in another document.
    package static func tree<T: Encodable>(of value: T) throws -> JSONValue {
        try decoder.decode(JSONValue.self, from: try encoder.encode(value))
    }

    /// A character JSON writes as itself inside a string.
    private static func isPlain(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value >= 0x20 && scalar != "\"" && scalar != "\\" && scalar.value != 0x7F
    }

    /// Encodes context values, or `nil` for none.
    package static func encodeContext(_ values: [String: String]) throws -> String? {
        values.isEmpty ? nil : try encode(values)
    }

    /// Decodes stored context values; a missing or unreadable column gives none.
    package static func decodeContext(_ text: String?) -> [String: String] {
        guard let text, let values = try? decode([String: String].self, from: text) else { return [:] }
        return values
    }

    /// Decodes a stored error column; text that is not a Durable error is kept as
    /// its message, so nothing a person edited in is lost from view.
    package static func decodeError(_ text: String?) -> StoredError? {
        guard let text else { return nil }
        if let error = try? decode(StoredError.self, from: text) { return error }
        return StoredError(kind: .failed, type: "unknown", message: text)
    }
}
