import Foundation

/// Splits a migration file into its statements: PostgreSQL's extended protocol,
/// which postgres-nio speaks, takes one statement at a time.
///
/// A `;` ends a statement unless it is inside a string ('...'), a quoted name
/// ("..."), a dollar-quoted body ($$...$$ or $tag$...$tag$) or a comment.
enum SQLScript {
    static func statements(in script: String) -> [String] {
        var statements: [String] = []
        var current: [Character] = []
        let characters = Array(script)
        var index = 0
        func flush() {
            let text = String(current).trimmingCharacters(in: .whitespacesAndNewlines)
            if !text.isEmpty, !isOnlyComments(text) { statements.append(text) }
            current.removeAll(keepingCapacity: true)
        }
        while index < characters.count {
            let character = characters[index]
            let following = index + 1 < characters.count ? characters[index + 1] : nil
            switch character {
            case "-" where following == "-":
                // A line comment, kept with the statement.
                while index < characters.count, characters[index] != "\n" {
                    current.append(characters[index])
                    index += 1
                }
                continue
            case "/" where following == "*":
                let end = find("*/", in: characters, from: index + 2) ?? characters.count
                current.append(contentsOf: characters[index..<min(end + 2, characters.count)])
                index = end + 2
                continue
            case "'", "\"":
                var end = index + 1
                while end < characters.count, characters[end] != character { end += 1 }
                current.append(contentsOf: characters[index..<min(end + 1, characters.count)])
                index = end + 1
                continue
            case "$":
                if let tagEnd = dollarTagEnd(characters, from: index) {
                    let tag = Array(characters[index...tagEnd])
                    let bodyEnd = find(String(tag), in: characters, from: tagEnd + 1) ?? characters.count
                    let end = min(bodyEnd + tag.count, characters.count)
                    current.append(contentsOf: characters[index..<end])
                    index = end
                    continue
                }
            case ";":
                flush()
                index += 1
                continue
            default:
                break
            }
            current.append(character)
            index += 1
        }
        flush()
        return statements
    }

    /// The index of the closing `$` of a dollar-quote tag starting at `start`
    /// (`$$` or `$name$`), or `nil` when `start` is no such tag (a `$1` parameter).
    private static func dollarTagEnd(_ characters: [Character], from start: Int) -> Int? {
        var index = start + 1
        while index < characters.count {
            let character = characters[index]
            if character == "$" { return index }
            guard character.isLetter || character == "_" || (index > start + 1 && character.isNumber) else {
                return nil
            }
            index += 1
        }
        return nil
    }

    private static func find(_ needle: String, in characters: [Character], from start: Int) -> Int? {
        let pattern = Array(needle)
        guard !pattern.isEmpty, start <= characters.count - pattern.count else { return nil }
        var index = start
        while index <= characters.count - pattern.count {
            if Array(characters[index..<index + pattern.count]) == pattern { return index }
            index += 1
        }
        return nil
    }

    private static func isOnlyComments(_ text: String) -> Bool {
        text.split(separator: "\n").allSatisfy { $0.trimmingCharacters(in: .whitespaces).hasPrefix("--") }
    }
}
