/// A request handler by path and method: an unknown path is 404, a known path with another
/// method 405 (with `Allow`).
package struct HTTPRoutes: Sendable {
    private var routes: [String: [String: HTTPServer.Handler]] = [:]

    package init() {}

    /// Answers `method` `path` with `handler`.
    package mutating func add(_ method: String, _ path: String, _ handler: @escaping HTTPServer.Handler) {
        routes[path, default: [:]][method] = handler
    }

    /// The answer to `request`.
    package func respond(to request: HTTPRequest) async -> HTTPResponse {
        guard let methods = routes[request.path] else { return .json(404, #"{"ok": false, "error": "no such path"}"#) }
        guard let handler = methods[request.method] else {
            var response = HTTPResponse.json(405, #"{"ok": false, "error": "method not allowed"}"#)
            response.headers.append(("Allow", methods.keys.sorted().joined(separator: ", ")))
            return response
        }
        return await handler(request)
    }
}
