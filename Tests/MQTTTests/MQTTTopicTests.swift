import Testing
@testable import MQTT

/// Topic names, filters and matching, with the examples of MQTT 3.1.1, 4.7.
@Suite("MQTT topics and filters")
struct MQTTTopicTests {
    @Test("valid and invalid filters (4.7.1)")
    func filters() {
        for valid in ["#", "+", "sport/#", "sport/tennis/#", "+/tennis/#", "sport/+/player1", "/+", "+/+", "a//b", "/", "$SYS/#"] {
            #expect(MQTTTopic.isValidFilter(valid), "\(valid)")
        }
        for invalid in ["", "sport/tennis#", "sport/tennis/#/ranking", "sport+", "#/a", "a/#b", "++"] {
            #expect(!MQTTTopic.isValidFilter(invalid), "\(invalid)")
        }
    }

    @Test("valid and invalid topic names")
    func names() {
        for valid in ["a", "a/b", "/", "a//b", "$SYS/broker", "température"] { #expect(MQTTTopic.isValidName(valid), "\(valid)") }
        for invalid in ["", "a/+", "#", "a/#"] { #expect(!MQTTTopic.isValidName(invalid), "\(invalid)") }
    }

    @Test("matching, with the spec's examples")
    func matching() {
        let cases: [(filter: String, name: String, matches: Bool)] = [
            ("sport/tennis/player1/#", "sport/tennis/player1", true),
            ("sport/tennis/player1/#", "sport/tennis/player1/ranking", true),
            ("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true),
            ("sport/tennis/player1/#", "sport/tennis/player2", false),
            ("sport/#", "sport", true),
            ("#", "anything/at/all", true),
            ("sport/tennis/+", "sport/tennis/player1", true),
            ("sport/tennis/+", "sport/tennis/player1/ranking", false),
            ("sport/+", "sport", false),
            ("sport/+", "sport/", true),
            ("+/+", "/finance", true),
            ("/+", "/finance", true),
            ("+", "/finance", false),
            ("zigbee2mqtt/+", "zigbee2mqtt/kitchen", true),
            ("zigbee2mqtt/+", "zigbee2mqtt/kitchen/set", false),
            ("a/b", "a/b", true),
            ("a/b", "a/b/c", false),
            ("a/b/c", "a/b", false),
            ("#", "$SYS/broker/uptime", false),
            ("+/monitor/Clients", "$SYS/monitor/Clients", false),
            ("$SYS/#", "$SYS/monitor/Clients", true),
            ("$SYS/monitor/+", "$SYS/monitor/Clients", true),
        ]
        for (filter, name, expected) in cases {
            #expect(MQTTTopic.matches(filter: filter, name: name) == expected, "\(filter) ~ \(name)")
        }
    }
}
