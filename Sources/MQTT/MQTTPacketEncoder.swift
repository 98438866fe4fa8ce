extension MQTTPacket {
    /// Appends this packet's bytes to `output`. Checks what the spec requires of a sender
    /// (string lengths and contents, non-zero packet identifiers present exactly where they
    /// belong, topic names without wildcards, valid filters, at least one subscription) and
    /// throws ``MQTTPacketError/invalidArgument(_:)`` without appending anything otherwise.
    package func encode(into output: inout [UInt8]) throws(MQTTPacketError) {
        var body: [UInt8] = []
        var flags: UInt8 = 0
        switch self {
        case .connect(let connect):
            guard !connect.clientID.isEmpty || connect.cleanSession else {
                throw .invalidArgument("an empty client identifier needs a clean session (MQTT-3.1.3-7)")
            }
            MQTTWireWriter.appendString("MQTT", to: &body)
            body.append(4)
            var connectFlags: UInt8 = connect.cleanSession ? 0x02 : 0
            if let will = connect.will {
                connectFlags |= 0x04 | will.qos.rawValue << 3 | (will.retain ? 0x20 : 0)
            }
            if connect.username != nil { connectFlags |= 0x80 }
            if connect.password != nil {
                guard connect.username != nil else { throw .invalidArgument("a password needs a user name in MQTT 3.1.1") }
                connectFlags |= 0x40
            }
            body.append(connectFlags)
            MQTTWireWriter.appendUInt16(connect.keepAlive, to: &body)
            try MQTTWireWriter.appendCheckedString(connect.clientID, "client identifier", to: &body)
            if let will = connect.will {
                guard MQTTTopic.isValidName(will.topic) else { throw .invalidArgument("will topic \"\(will.topic)\" is not a topic name") }
                try MQTTWireWriter.appendCheckedString(will.topic, "will topic", to: &body)
                try MQTTWireWriter.appendBinary(will.payload, "will message", to: &body)
            }
            if let username = connect.username { try MQTTWireWriter.appendCheckedString(username, "user name", to: &body) }
            if let password = connect.password { try MQTTWireWriter.appendBinary(password, "password", to: &body) }
        case .connAck(let acknowledgement):
            guard acknowledgement.returnCode == .accepted || !acknowledgement.sessionPresent else {
                throw .invalidArgument("a refusing CONNACK has no session")
            }
            body = [acknowledgement.sessionPresent ? 1 : 0, acknowledgement.returnCode.rawValue]
        case .publish(let publish):
            guard MQTTTopic.isValidName(publish.topic) else { throw .invalidArgument("\"\(publish.topic)\" is not a topic name") }
            guard (publish.qos == .atMostOnce) == (publish.packetID == nil) else {
                throw .invalidArgument("a packet identifier is required exactly for QoS 1 and 2")
            }
            guard publish.qos != .atMostOnce || !publish.dup else { throw .invalidArgument("DUP set on a QoS 0 message") }
            flags = (publish.dup ? 0x08 : 0) | publish.qos.rawValue << 1 | (publish.retain ? 0x01 : 0)
            try MQTTWireWriter.appendCheckedString(publish.topic, "topic name", to: &body)
            if let id = publish.packetID { try MQTTWireWriter.appendPacketID(id, to: &body) }
            body.append(contentsOf: publish.payload)
        case .pubAck(let id), .pubRec(let id), .pubComp(let id), .unsubAck(let id):
            try MQTTWireWriter.appendPacketID(id, to: &body)
        case .pubRel(let id):
            flags = 0b0010
            try MQTTWireWriter.appendPacketID(id, to: &body)
        case .subscribe(let id, let subscriptions):
            flags = 0b0010
            guard !subscriptions.isEmpty else { throw .invalidArgument("SUBSCRIBE without a subscription") }
            try MQTTWireWriter.appendPacketID(id, to: &body)
            for subscription in subscriptions {
                guard MQTTTopic.isValidFilter(subscription.filter) else {
                    throw .invalidArgument("\"\(subscription.filter)\" is not a topic filter")
                }
                try MQTTWireWriter.appendCheckedString(subscription.filter, "topic filter", to: &body)
                body.append(subscription.qos.rawValue)
            }
        case .subAck(let id, let codes):
            guard !codes.isEmpty else { throw .invalidArgument("SUBACK without a return code") }
            try MQTTWireWriter.appendPacketID(id, to: &body)
            for code in codes {
                switch code {
                case .granted(let qos): body.append(qos.rawValue)
                case .failure: body.append(0x80)
                }
            }
        case .unsubscribe(let id, let filters):
            flags = 0b0010
            guard !filters.isEmpty else { throw .invalidArgument("UNSUBSCRIBE without a filter") }
            try MQTTWireWriter.appendPacketID(id, to: &body)
            for filter in filters {
                guard MQTTTopic.isValidFilter(filter) else { throw .invalidArgument("\"\(filter)\" is not a topic filter") }
                try MQTTWireWriter.appendCheckedString(filter, "topic filter", to: &body)
            }
        case .pingReq, .pingResp, .disconnect:
            break
        }
        guard body.count <= MQTTPacket.maxRemainingLength else {
            throw .invalidArgument("\(name) of \(body.count) bytes exceeds MQTT's limit of \(MQTTPacket.maxRemainingLength)")
        }
        output.append(typeNumber << 4 | flags)
        MQTTWireWriter.appendRemainingLength(body.count, to: &output)
        output.append(contentsOf: body)
    }

    /// This packet's bytes (see ``encode(into:)``).
    package func encoded() throws(MQTTPacketError) -> [UInt8] {
        var output: [UInt8] = []
        try encode(into: &output)
        return output
    }
}
