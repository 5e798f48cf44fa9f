/// An aligned text table for people: a header row, then one row per item, with
/// columns padded to their widest cell. Numbers are right-aligned.
struct TextTable {
    let columns: [String]
    private(set) var rows: [[String]] = []

    init(columns: [String]) {
        self.columns = columns
    }

    mutating func add(_ row: [String]) {
        rows.append(row)
    }

    func rendered() -> String {
        let all = [columns] + rows
        let widths = columns.indices.map { column in
            all.map { $0.indices.contains(column) ? $0[column].count : 0 }.max() ?? 0
        }
        let numeric = columns.indices.map { column in
            !rows.isEmpty && rows.allSatisfy { row in
                !row.indices.contains(column) || row[column].isEmpty || Double(row[column]) != nil
            }
        }
        var text = ""
        for row in all {
            let cells = columns.indices.map { column -> String in
                let cell = row.indices.contains(column) ? row[column] : ""
                let padding = String(repeating: " ", count: widths[column] - cell.count)
                return numeric[column] ? padding + cell : cell + padding
            }
            text += cells.joined(separator: "  ").trimmingTrailingSpaces() + "\n"
        }
        return text
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var result = self
        while result.last == " " { result.removeLast() }
        return result
    }
}
