/// A plain-text table as the renderers print them: the first column left-aligned, the others
/// right-aligned, two spaces between columns.
enum TextTable {
    static func render(_ header: [String], _ rows: [[String]], indent: String = "  ") -> String {
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            indent
                + cells.enumerated().map { column, cell in
                    let padding = String(repeating: " ", count: widths[column] - cell.count)
                    return column == 0 ? cell + padding : padding + cell
                }.joined(separator: "  ") + "\n"
        }
        return line(header) + rows.map(line).joined()
    }
}
