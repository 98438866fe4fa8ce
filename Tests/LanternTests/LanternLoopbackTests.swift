import Foundation
import Lantern
import Locking
import Testing
import TestSupport

@Suite("Lantern client and control server on loopback", .timeLimit(.minutes(1)))
struct LanternLoopbackTests {
    static let red = LanternColor(red: 255, green: 0, blue: 0)
    static let green = LanternColor(red: 0, green: 255, blue: 0)

    @Test("a lantern that connects gets the current state first, then every command the others get")
    func stateFirstThenBroadcasts() async throws {
        let server = try LanternControlServer(port: 0)
        defer { server.stop() }
        server.send(.on)
        server.send(.color(Self.red))
        let first = LanternClient(port: server.port)
        let second = LanternClient(port: server.port)
        let firstStates = Collected(first.states)
        #expect(await firstStates.waitFor { $0.last == LanternState(isOn: true, color: Self.red) }, "the state before it came")
        #expect(await eventually { server.lanterns.count == 2 })
        #expect(server.send(.color(Self.green)) == 2)
        server.send(.off)
        #expect(await firstStates.waitFor { $0.last == LanternState(isOn: false, color: Self.green) })
        #expect(await eventually { second.state == LanternState(isOn: false, color: Self.green) })
        #expect(firstStates.all.first == LanternState(), "starts off and white")
        await first.close()
        await second.close()
        #expect(await eventually { server.lanterns.isEmpty })
    }

    @Test("a partial TLV sent raw changes nothing and does not shift later commands: the state a new lantern gets stays right")
    func partialRawDoesNotDesynchronise() async throws {
        let server = try LanternControlServer(port: 0)
        defer { server.stop() }
        server.send(raw: [0x20, 0x00])  // a COLOR header cut after one length byte
        #expect(server.state == LanternState(), "the partial command changed nothing")
        server.send(.on)
        server.send(.color(Self.red))
        #expect(server.state == LanternState(isOn: true, color: Self.red), "later commands are read from their first byte")
        let lantern = LanternClient(port: server.port)
        #expect(await eventually { lantern.state == LanternState(isOn: true, color: Self.red) }, "a new lantern gets that state")
        await lantern.close()
    }

    @Test("unknown and malformed commands are skipped and counted; a registered one arrives on commands")
    func unknownAndRegistered() async throws {
        let server = try LanternControlServer(port: 0)
        defer { server.stop() }
        var configuration = LanternClient.Configuration()
        configuration.registry = blinkRegistry()
        let lantern = LanternClient(port: server.port, configuration: configuration)
        let commands = Collected(lantern.commands)
        #expect(await eventually { lantern.connectionState == .connected && server.lanterns.count == 1 })
        server.send(raw: LanternProtocolTests.stream)
        #expect(await commands.waitFor { $0.last == .off })
        let blink = LanternCommand.registered(name: "BLINK", type: 0x30, value: LanternCommandValue(Blink(periodMilliseconds: 500)))
        #expect(commands.all.contains(blink))
        #expect(lantern.statistics.unknownSkipped == 2 && lantern.statistics.malformedIgnored == 2)
        #expect(lantern.state == LanternState(isOn: false, color: Self.red))
        #expect(server.state == lantern.state, "the stand's state is what its lanterns were sent")
        await lantern.close()
    }

    @Test("a lantern waits for a server that is down, and reconnects when the stand restarts")
    func reconnects() async throws {
        let refusing = try RefusingPort()
        let port = refusing.port
        let lantern = LanternClient(port: port)
        let connection = Collected(lantern.connectionStates)
        #expect(await connection.waitFor { $0.contains { if case .waiting(.seconds(1), _) = $0 { true } else { false } } }, "the server is down")
        refusing.release()
        var server = try await rebinding { try LanternControlServer(port: port) }
        #expect(await eventually { lantern.connectionState == .connected })
        server.send(.on)
        #expect(await eventually { lantern.state.isOn })
        server.stop()
        #expect(await connection.waitFor { $0.last.map { if case .waiting = $0 { true } else { false } } ?? false })
        server = try await rebinding { try LanternControlServer(port: port) }
        defer { server.stop() }
        server.send(.color(Self.green))  // before the lantern is back: it gets it as the state
        #expect(await eventually { lantern.state == LanternState(isOn: false, color: Self.green) }, "the new stand's state")
        await lantern.close()
        #expect(await connection.waitFor { $0.last == .closed })
    }

    @Test("close is clean: the server sees a FIN after pending output, and nothing reconnects")
    func cleanClose() async throws {
        let raw = try RawServer()
        defer { raw.close() }
        let lantern = LanternClient(port: raw.port)
        let peer = try await onThread { try raw.accept() }
        #expect(await eventually { lantern.connectionState == .connected })
        try peer.write([0x12, 0, 0])
        #expect(await eventually { lantern.state.isOn }, "positive control: the connection works")
        await lantern.close()
        #expect(try await onThread { peer.waitForFIN(timeout: .seconds(5)) }, "FIN, not a reset")
        let again = try await onThread { () -> Bool in
            do {
                _ = try raw.accept(within: .milliseconds(2500))
                return true
            } catch {
                return false
            }
        }
        #expect(!again, "no reconnect after close (the reconnect delay is 1 s)")
        peer.close()
    }
}
