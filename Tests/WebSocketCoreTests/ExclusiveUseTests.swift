import Testing
@testable import WebSocketCore

@Suite("ExclusiveUse: one user at a time, enforced")
struct ExclusiveUseTests {
    @Test("one user after another runs; the guard is free again after each, also after a throw")
    func sequentialUse() throws {
        let exclusive = ExclusiveUse()
        #expect(exclusive.run("busy") { 1 } == 1)
        struct Failure: Error {}
        #expect(throws: Failure.self) { try exclusive.run("busy") { () throws(Failure) in throw Failure() } }
        #expect(exclusive.run("busy") { 2 } == 2, "free again after the throw")
    }

    @Test("a second user while the first is inside traps")
    func overlappingUseTraps() async {
        await #expect(processExitsWith: .failure) {
            let exclusive = ExclusiveUse()
            exclusive.run("first") {
                exclusive.run("second user inside") {}
            }
        }
    }
}
