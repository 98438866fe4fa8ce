// ws-conformance: the echo peer that Autobahn|Testsuite drives, on the same WebSocket code
// apps use. `client` follows the fuzzingserver protocol (tests our client role); `server`
// echoes for the fuzzingclient mode (tests our server role).
import ConnectionCore
import Foundation
import WebSocketCore
import WebSocketIO

/// Autobahn sends messages up to 16 MiB and 65,536 fragments: the echo peer raises the
/// library's default limits (1 MiB) through configuration, as an application would.
let conformanceConfiguration = WebSocketConfiguration(
    limits: .init(maxFrameSize: 64 << 20, maxMessageSize: 64 << 20),
    closeTimeout: .seconds(3), inboundBufferLimit: 64 << 20, outboundHighWater: 64 << 20,
    // permessage-deflate offered (client) and accepted (server) with the defaults, for sections 12 and 13.
    deflate: PerMessageDeflateConfiguration())

func log(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

func usage() -> Never {
    FileHandle.standardError.write(Data("""
    usage: ws-conformance client --url ws[s]://127.0.0.1:9001 [--tls-ca FILE] [--agent NAME] [--first I] [--last J]
           ws-conformance server [--host 127.0.0.1] [--port 9002] [--tls-cert FILE --tls-key FILE]

    """.utf8))
    exit(2)
}

func option(_ name: String, in arguments: [String]) -> String? {
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
    return arguments[index + 1]
}

/// Echoes every message back with the same type until the connection ends.
func echo(_ connection: WebSocketConnection) async {
    for await message in connection.messages {
        do {
            try await connection.send(message)
        } catch {
            break
        }
    }
    _ = await connection.closed()
}

func runClient(_ arguments: [String]) async {
    guard let url = option("--url", in: arguments).flatMap(URL.init(string:)), let host = url.host, let port = url.port else { usage() }
    let agent = option("--agent", in: arguments) ?? "SensorStream"
    var configuration = conformanceConfiguration
    if url.scheme == "wss" {
        // The suite's certificate is made for the run: trust the CA file given, verify the name.
        configuration.tls = TLSConfiguration(trustedCertificatesFile: option("--tls-ca", in: arguments))
    }
    let clientConfiguration = configuration
    func open(_ path: String) async throws(WebSocketError) -> WebSocketConnection {
        try await WebSocketConnection.connect(host: host, port: port, path: path, configuration: clientConfiguration)
    }
    let caseCount: Int
    do {
        let connection = try await open("/getCaseCount")
        guard case .text(let text)? = await connection.receive(), let count = Int(text) else {
            log("ws-conformance: no case count from the server")
            exit(1)
        }
        caseCount = count
        await connection.close()
    } catch {
        log("ws-conformance: cannot reach \(url): \(error)")
        exit(1)
    }
    let first = option("--first", in: arguments).flatMap(Int.init) ?? 1
    let last = option("--last", in: arguments).flatMap(Int.init) ?? caseCount
    log("ws-conformance: running cases \(first)...\(last) of \(caseCount) as \(agent)")
    for index in first...last {
        do {
            await echo(try await open("/runCase?case=\(index)&agent=\(agent)"))
        } catch {
            log("ws-conformance: case \(index): \(error)")
        }
    }
    var reportPath = "/updateReports?agent=\(agent)"
    if arguments.contains("--shutdown") { reportPath += "&shutdownOnComplete=true" }
    if let connection = try? await open(reportPath) {
        _ = await connection.closed()
    }
    log("ws-conformance: done")
}

func runServer(_ arguments: [String]) async {
    let host = option("--host", in: arguments) ?? "127.0.0.1"
    let port = option("--port", in: arguments).flatMap(Int.init) ?? 9002
    var tls: TLSServerContext?
    if let certificate = option("--tls-cert", in: arguments), let key = option("--tls-key", in: arguments) {
        do {
            tls = try TLSServerContext(TLSServerConfiguration(certificateChainFile: certificate, privateKeyFile: key))
        } catch {
            log("ws-conformance: \(error)")
            exit(1)
        }
    }
    let server: WebSocketServer
    do {
        server = try WebSocketServer(host: host, port: port, configuration: conformanceConfiguration, tls: tls)
    } catch {
        log("ws-conformance: cannot listen on \(host):\(port): \(error)")
        exit(1)
    }
    log("ws-conformance: echo server on \(tls == nil ? "ws" : "wss")://\(host):\(server.port)")
    await withDiscardingTaskGroup { group in
        for await connection in server.connections {
            group.addTask { await echo(connection) }
        }
    }
}


let arguments = Array(CommandLine.arguments.dropFirst())
switch arguments.first {
case "client": await runClient(arguments)
case "server": await runServer(arguments)
default: usage()
}
