import Foundation
import SensorStream

/// A small chart of one field's history for a terminal: a title, eight rows of block
/// characters (one column per point, the bar's top at the point's average) with the largest
/// and smallest value on the left, and the range's first and last time under it.
enum HistoryChart {
    /// Rows of the chart.
    static let height = 8
    /// The characters of a partly filled cell, by eighths (index 0: empty).
    private static let eighths: [Character] = [" ", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]

    /// The columns a chart has on a terminal this wide (the labels take 12).
    static func width(forTerminalColumns columns: Int) -> Int { max(10, min(200, columns - 12)) }

    /// The chart of `points` (time order) over `from...to`, at most `width` columns: the points
    /// are spread over the columns by time; a column with several gets their mean, one with
    /// none stays empty.
    static func render(title: String, points: [HistoryPoint], from: Int, to: Int, width: Int) -> String {
        guard let low = points.map(\.average).min(), let high = points.map(\.average).max() else {
            return "\(title): no points"
        }
        let columns = max(1, width)
        let span = max(1, to - from + 1)
        var sums = [Double](repeating: 0, count: columns)
        var counts = [Int](repeating: 0, count: columns)
        for point in points {
            let column = min(columns - 1, max(0, (point.time - from) * columns / span))
            sums[column] += point.average
            counts[column] += 1
        }
        let range = high - low
        // A column's height in eighths of a cell: the lowest value one eighth, the highest all.
        let levels = (0..<columns).map { column -> Int? in
            guard counts[column] > 0 else { return nil }
            let mean = sums[column] / Double(counts[column])
            let fraction = range > 0 ? (mean - low) / range : 1
            return 1 + Int((fraction * Double(height * 8 - 1)).rounded())
        }
        let highLabel = label(high)
        let lowLabel = label(low)
        let labelWidth = max(highLabel.count, lowLabel.count)
        var lines = ["\(title)  (last \(label(points.last?.average ?? high)), \(points.count) points)"]
        for row in (0..<height).reversed() {
            let axis = row == height - 1 ? highLabel : row == 0 ? lowLabel : ""
            let cells = levels.map { level -> Character in
                guard let level else { return " " }
                return eighths[min(8, max(0, level - row * 8))]
            }
            lines.append(String(repeating: " ", count: labelWidth - axis.count) + axis + " │" + String(cells))
        }
        lines.append(String(repeating: " ", count: labelWidth) + " └" + String(repeating: "─", count: columns))
        let start = dateTime(from)
        let end = dateTime(to)
        let gap = max(1, columns - start.count - end.count)
        lines.append(String(repeating: " ", count: labelWidth + 2) + start + String(repeating: " ", count: gap) + end)
        return lines.joined(separator: "\n")
    }

    /// A value as a short label: up to two decimals, no trailing zeros.
    static func label(_ value: Double) -> String {
        var text = String(format: "%.2f", value)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text == "-0" ? "0" : text
    }

    /// A unix second as local `YYYY-MM-DD HH:MM:SS`.
    static func dateTime(_ second: Int) -> String {
        var seconds = time_t(second)
        var parts = tm()
        localtime_r(&seconds, &parts)
        return String(format: "%04d-%02d-%02d %02d:%02d:%02d", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                      parts.tm_hour, parts.tm_min, parts.tm_sec)
    }
}
