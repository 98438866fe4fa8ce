// The dashboard in a real browser: `swift run browser-check SENSORCTL CHROMIUM SCREENSHOT`.
// Starts a hub with 200 simulated sensors at 10 Hz and an agent whose device is named like an
// HTML injection, opens the dashboard in headless Chromium (DevTools protocol over our own
// WebSocket client) and checks: every sensor listed, every value changing within 2 s, the
// device name shown as text, a command sent from the page answered by the agent, the page's
// frame rate under that load, the page reconnecting when the hub restarts, and a hub with app
// tokens (the page asks for one, refuses a wrong one, works with the right one). The hub
// records into a MetricStore server (with an hour of simulated past): fields shown by name
// with units, the time of the last reading, a chart from the history with a field picker;
// the hub with tokens has no history, and the page says so. Exit 1 on a failure.
import Foundation
import SensorWire

let arguments = CommandLine.arguments
guard arguments.count == 4 else {
    FileHandle.standardError.write(Data("usage: browser-check SENSORCTL CHROMIUM SCREENSHOT\n".utf8))
    exit(2)
}
let (sensorctl, browser, screenshot) = (arguments[1], arguments[2], arguments[3])

/// Everything started, stopped on every way out.
nonisolated(unsafe) var started: [Process] = []
nonisolated(unsafe) var cleanups: [() -> Void] = []

func stopEverything() {
    for process in started where process.isRunning { process.terminate() }
    for cleanup in cleanups { cleanup() }
}

func say(_ line: String) { FileHandle.standardOutput.write(Data(("browser: " + line + "\n").utf8)) }
func fail(_ line: String) -> Never {
    FileHandle.standardOutput.write(Data(("browser check FAILED: " + line + "\n").utf8))
    stopEverything()
    exit(1)
}

/// Starts `sensorctl arguments` and returns it once it printed a line containing `marker`.
func start(_ arguments: [String], waitingFor marker: String) throws -> (Process, String) {
    guard let started = try startIfItCan(arguments, waitingFor: marker) else { fail("sensorctl \(arguments.joined(separator: " ")) ended before \(marker)") }
    return started
}

/// Like `start`, but nil when the process ends before printing `marker`.
func startIfItCan(_ arguments: [String], waitingFor marker: String) throws -> (Process, String)? {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: sensorctl)
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try process.run()
    started.append(process)
    var text = ""
    while !text.contains(marker) {
        let data = output.fileHandleForReading.availableData
        if data.isEmpty { return nil }
        text += String(decoding: data, as: UTF8.self)
    }
    let reader = output.fileHandleForReading
    Thread { while !reader.availableData.isEmpty {} }.start()
    return (process, text)
}

let folder = FileManager.default.temporaryDirectory.appendingPathComponent("browser-check-\(UUID().uuidString)")
try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
let devices = folder.appendingPathComponent("devices.json").path
try #"{"devices":[{"id":"xss-1","name":"<img src=x onerror=alert(1)>","tags":{"room":"<b>hall</b>"},"type":"lamp"}]}"#
    .write(toFile: devices, atomically: true, encoding: .utf8)

// The hub records into a MetricStore server of its own, so the page can chart the last hour.
let (_, storeBanner) = try start(["metrics", "serve", "--port", "0"], waitingFor: "metric store listening on")
guard let storeMatch = storeBanner.firstMatch(of: /listening on 127\.0\.0\.1:(\d+)/), let storePort = Int(storeMatch.1) else {
    fail("no metric store port in \(storeBanner)")
}
let hubArguments = ["hub", "--simulate-agents", "20", "--sensors-per-agent", "10", "--rate", "10",
                    "--history", "metrics://127.0.0.1:\(storePort)", "--simulate-past", "1h"]
var (hub, banner) = try start(hubArguments + ["--port", "0"], waitingFor: "hub listening on")
guard let match = banner.firstMatch(of: /ws:\/\/127\.0\.0\.1:(\d+)/), let port = Int(match.1) else { fail("no hub port in \(banner)") }
let (agent, _) = try start(["agent", "--port", String(port), "--id", "home-1", "--devices-file", devices, "--rate", "2"], waitingFor: "connected")
_ = agent
cleanups.append { try? FileManager.default.removeItem(at: folder) }

let page: any BrowserDriver = browser.contains("firefox") ? try await WebDriverBiDi(browser: browser) : try await DevTools(browser: browser)
let engine = browser.contains("firefox") ? "Firefox" : "Chromium"
say("driving \(engine) (\(browser))")
cleanups.append { page.close() }
try await page.open("http://127.0.0.1:\(port)/?command=xss-1&service=switch&data=%7B%22on%22%3Atrue%7D")

// Every sensor listed.
guard try await page.waitFor("document.querySelectorAll('.card').length === 201") else {
    fail("the page lists \(try await page.evaluate("document.querySelectorAll('.card').length")) sensors, not 201")
}
say("the page lists all 201 sensors")

// Every simulated sensor's value changes within 2 s.
let updates = "JSON.stringify([...document.querySelectorAll('.card')].filter(c => c.dataset.sensorId.startsWith('A')).map(c => Number(c.dataset.updates || 0)))"
guard case .string(let before) = try await page.evaluate(updates) else { fail("no update counts") }
try await Task.sleep(for: .seconds(2))
guard case .string(let after) = try await page.evaluate(updates) else { fail("no update counts") }
let first = try JSONParser.parse(before).arrayValue?.compactMap(\.intValue) ?? []
let second = try JSONParser.parse(after).arrayValue?.compactMap(\.intValue) ?? []
guard first.count == 200, second.count == 200, zip(first, second).allSatisfy({ $1 > $0 }) else {
    fail("not every value changed within 2 s: \(zip(first, second).filter { $1 <= $0 }.count) did not")
}
say("every one of the 200 simulated sensors' values changed within 2 s")

// The device named like HTML shows as text.
let meta = try await page.evaluate("document.querySelector('[data-sensor-id=\"xss-1\"] .meta').textContent")
guard meta.stringValue?.contains("<img src=x onerror=alert(1)>") == true, meta.stringValue?.contains("room=<b>hall</b>") == true,
      try await page.evaluate("document.querySelectorAll('main img, main b').length") == .number(0) else {
    fail("the device name is not shown as text: \(meta)")
}
say("a device named <img src=x onerror=alert(1)> shows as that text")

// The link filled in the command without sending it; the user's click sends it, and the
// agent's answer shows.
guard try await page.evaluate("document.querySelector('[data-sensor-id=\"xss-1\"] .response').textContent") == .string("") else {
    fail("the link's command was sent without a click")
}
_ = try await page.evaluate("(() => { document.querySelector('[data-sensor-id=\"xss-1\"] form.command button').click(); return true; })()")
guard try await page.waitFor("document.querySelector('[data-sensor-id=\"xss-1\"] .response').textContent === '200 {\"done\":true}'") else {
    fail("no answer to the page's command: \(try await page.evaluate("document.querySelector('[data-sensor-id=\"xss-1\"] .response').textContent"))")
}
say("a command sent from the page got the agent's answer: 200 {\"done\":true}")

// Fields by name with their units, the time of the last reading, the rate in words.
let fieldsText = "document.querySelector('[data-sensor-id=\"A01-S1\"] .fields').textContent"
guard try await page.waitFor("/temperature -?[0-9.]+ °C/.test(\(fieldsText)) && /humidity [0-9.]+ %/.test(\(fieldsText))") else {
    fail("the fields are not shown by name with units: \(try await page.evaluate(fieldsText))")
}
let rateText = "document.querySelector('[data-sensor-id=\"A01-S1\"] .rate').textContent"
guard try await page.waitFor("/^last reading [0-9]{2}:[0-9]{2}:[0-9]{2} · [0-9]+ readings?\\/s$/.test(\(rateText))") else {
    fail("no time of the last reading and rate: \(try await page.evaluate(rateText))")
}
say("A01-S1 shows \(try await page.evaluate(fieldsText).stringValue ?? "") and \(try await page.evaluate(rateText).stringValue ?? "")")

// The chart of the last hour: the hub's history arrived (recorded seconds before the page
// asked), the picker offers both fields, and no two sensors of an agent send the same values.
let firstCard = "document.querySelector('[data-sensor-id=\"A01-S1\"]')"
guard try await page.waitFor("\(firstCard).dataset.history === 'loaded' && Number(\(firstCard).dataset.historyPoints) > 0 && Number(\(firstCard).dataset.chartPoints) >= 1") else {
    fail("no chart from history: \(try await page.evaluate("JSON.stringify(\(firstCard).dataset)"))")
}
guard try await page.evaluate("[...\(firstCard).querySelectorAll('select.field option')].map(o => o.value).join(',')") == .string("humidity,temperature"),
      try await page.evaluate("document.getElementById('history-banner').hidden") == .bool(true) else {
    fail("no field picker, or a history banner on a hub that records")
}
let neighbours = "['A01-S1','A01-S2','A01-S3'].map(id => document.querySelector(`[data-sensor-id=\"${id}\"] .fields`).textContent)"
guard try await page.waitFor("new Set(\(neighbours)).size === 3") else { fail("neighbouring sensors show the same values: \(try await page.evaluate("JSON.stringify(\(neighbours))"))") }
say("A01-S1's chart: \(try await page.evaluate("\(firstCard).dataset.chartPoints").stringValue ?? "?") buckets of 15 s, from a history answer of \(try await page.evaluate("\(firstCard).dataset.historyPoints").stringValue ?? "?") points and the live readings; humidity and temperature to pick")

// Frames per second under 200 sensors at 10 Hz.
let fps = try await page.evaluate("new Promise(done => { let frames = 0; const start = performance.now(); function tick() { frames++; if (performance.now() - start < 2000) requestAnimationFrame(tick); else done(frames / ((performance.now() - start) / 1000)); } requestAnimationFrame(tick); })")
let rate = try await page.evaluate("Number(document.getElementById('total-rate').textContent)")
say(String(format: "the page ran at %.0f frames/s while receiving %@ readings/s (200 sensors at 10 Hz)", fps.doubleValue ?? 0, "\(rate.intValue ?? 0)"))
try await page.screenshot(to: screenshot)
say("screenshot \(screenshot)")

// The hub restarts: the page says so, then reconnects.
hub.terminate()
while hub.isRunning { try await Task.sleep(for: .milliseconds(50)) }
guard try await page.waitFor("document.getElementById('banner').textContent.startsWith('hub unreachable')") else { fail("the page did not notice the hub going") }
var restarted = false
for _ in 0..<50 {
    // The port may be held a moment (TIME_WAIT of the page's connection ...): retry.
    if let attempt = try startIfItCan(hubArguments + ["--port", String(port)], waitingFor: "hub listening on") {
        hub = attempt.0
        restarted = true
        break
    }
    try await Task.sleep(for: .milliseconds(200))
}
guard restarted else { fail("the hub could not restart on port \(port)") }
guard try await page.waitFor("document.getElementById('banner').textContent === 'live'") else { fail("the page did not reconnect") }
guard case .string(let resumed) = try await page.evaluate(updates) else { fail("no update counts") }
try await Task.sleep(for: .seconds(2))
guard case .string(let later) = try await page.evaluate(updates) else { fail("no update counts") }
let third = try JSONParser.parse(resumed).arrayValue?.compactMap(\.intValue) ?? []
let fourth = try JSONParser.parse(later).arrayValue?.compactMap(\.intValue) ?? []
guard zip(third, fourth).allSatisfy({ $1 > $0 }) else { fail("readings did not resume after the restart") }
say("the hub restarted: the page said so, reconnected and its values move again")

// A hub that requires app tokens: the page asks for one, says when it is refused, and works
// with the right one (sent in the upgrade's query: browsers cannot set headers on a WebSocket).
let tokens = folder.appendingPathComponent("tokens").path
try "page-token read\n".write(toFile: tokens, atomically: true, encoding: .utf8)
let agentToken = folder.appendingPathComponent("agent-token").path
try "agent-secret\n".write(toFile: agentToken, atomically: true, encoding: .utf8)
let (_, secureBanner) = try start(["hub", "--port", "0", "--simulate-agents", "1", "--tokens", tokens, "--agent-token-file", agentToken],
                                  waitingFor: "hub listening on")
guard let secureMatch = secureBanner.firstMatch(of: /ws:\/\/127\.0\.0\.1:(\d+)/), let securePort = Int(secureMatch.1) else { fail("no hub port in \(secureBanner)") }
try await page.open("http://127.0.0.1:\(securePort)/")
guard try await page.waitFor("!document.getElementById('login').hidden && document.getElementById('banner').textContent === 'this hub requires an app token'") else {
    fail("the page did not ask for a token: \(try await page.evaluate("document.getElementById('banner').textContent"))")
}
_ = try await page.evaluate("(() => { document.getElementById('token').value = 'wrong'; document.getElementById('login').requestSubmit(); return true; })()")
guard try await page.waitFor("document.getElementById('banner').textContent === 'token refused' && !document.getElementById('login').hidden") else {
    fail("a wrong token was not refused: \(try await page.evaluate("document.getElementById('banner').textContent"))")
}
_ = try await page.evaluate("(() => { document.getElementById('token').value = 'page-token'; document.getElementById('login').requestSubmit(); return true; })()")
guard try await page.waitFor("document.getElementById('banner').textContent === 'live' && document.querySelectorAll('.card').length === 3") else {
    fail("the right token did not connect: \(try await page.evaluate("document.getElementById('banner').textContent"))")
}
say("a hub with app tokens: the page asked for one, refused a wrong one, listed the 3 sensors with the right one")
// That hub records no history: the page says so, and its charts show the live readings.
let historyBanner = "document.getElementById('history-banner')"
guard try await page.waitFor("!\(historyBanner).hidden && \(historyBanner).textContent.includes('records no history') && Number(document.querySelector('.card').dataset.chartPoints) >= 1") else {
    fail("no banner for a hub without history: \(try await page.evaluate("\(historyBanner).textContent"))")
}
say("a hub without history: the page says \"\(try await page.evaluate("\(historyBanner).textContent").stringValue ?? "")\"")
stopEverything()
