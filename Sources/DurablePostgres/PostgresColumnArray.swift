import NIOCore
import PostgresNIO

/// One column of many rows as a single PostgreSQL array parameter, whose
/// elements may be NULL (postgres-nio's own arrays cannot hold NULL).
///
/// Statements that write many rows pass each column as one of these and read
/// them back with `unnest($1::bigint[], $2::text[], ...)`: the statement's text
/// and its number of parameters stay the same whatever the number of rows, so
/// the server parses and plans little (a `VALUES` list of N rows is a new
/// statement of 8·N parameters each time).
struct PostgresColumnArray<Element: PostgresArrayEncodable & PostgresNonThrowingEncodable>: PostgresNonThrowingEncodable {
    var elements: [Element?]

    init(_ elements: [Element?]) {
        self.elements = elements
    }

    static var psqlType: PostgresDataType { Element.psqlArrayType }
    static var psqlFormat: PostgresFormat { .binary }

    /// The binary array format (`array_recv`): dimensions, a has-NULL flag, the
    /// element type, then each dimension's length and lower bound, then each
    /// element as its length and bytes, length -1 for NULL.
    func encode<JSONEncoder: PostgresJSONEncoder>(into buffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) {
        buffer.writeInteger(elements.isEmpty ? 0 : 1, as: Int32.self)
        buffer.writeInteger(elements.contains { $0 == nil } ? 1 : 0, as: Int32.self)
        buffer.writeInteger(Element.psqlType.rawValue)
        guard !elements.isEmpty else { return }
        buffer.writeInteger(Int32(elements.count), as: Int32.self)
        buffer.writeInteger(1, as: Int32.self)
        for element in elements {
            guard let element else {
                buffer.writeInteger(-1, as: Int32.self)
                continue
            }
            let lengthIndex = buffer.writerIndex
            buffer.writeInteger(0, as: Int32.self)
            let start = buffer.writerIndex
            element.encode(into: &buffer, context: context)
            buffer.setInteger(Int32(buffer.writerIndex - start), at: lengthIndex, as: Int32.self)
        }
    }
}
