/// Topic names and topic filters (MQTT 3.1.1, 4.7): which are valid, and which names a filter
/// matches. Levels are separated by `/`; in a filter, `+` matches one whole level and `#`,
/// last and alone in its level, matches the parent level and everything below it.
package enum MQTTTopic {
    /// Whether `name` may be published to: at least one character, no wildcard.
    package static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && !name.utf8.contains { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "#") }
    }

    /// Whether `filter` may be subscribed to: at least one character, `+` only as a whole
    /// level, `#` only as the whole last level.
    package static func isValidFilter(_ filter: String) -> Bool {
        guard !filter.isEmpty else { return false }
        let levels = filter.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        for (position, level) in levels.enumerated() {
            if level.contains(UInt8(ascii: "#")) && (level.count != 1 || position != levels.count - 1) { return false }
            if level.contains(UInt8(ascii: "+")) && level.count != 1 { return false }
        }
        return true
    }

    /// Whether the topic `name` matches `filter` (both assumed valid). A filter starting with
    /// a wildcard does not match names starting with `$` (MQTT-4.7.2-1).
    package static func matches(filter: String, name: String) -> Bool {
        let filterLevels = filter.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        let nameLevels = name.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        if name.utf8.first == UInt8(ascii: "$"), let first = filterLevels.first,
           first.elementsEqual("+".utf8) || first.elementsEqual("#".utf8) {
            return false
        }
        var index = 0
        while index < filterLevels.count {
            let level = filterLevels[index]
            if level.elementsEqual("#".utf8) { return true }  // the parent level and all below
            guard index < nameLevels.count else { return false }
            if !level.elementsEqual("+".utf8) && !level.elementsEqual(nameLevels[index]) { return false }
            index += 1
        }
        return index == nameLevels.count
    }
}
