import Foundation
import Locking
import Testing

@Suite("Locking: LockedValue excludes, and gives values back")
struct LockingTests {
    @Test("8 threads x 50,000 increments under the lock: exactly 400,000")
    func mutualExclusion() async {
        let counter = LockedValue(0)
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                        let thread = Thread {
                            for _ in 0..<50_000 { counter.withLock { $0 += 1 } }
                            done.resume()
                        }
                        thread.start()
                    }
                }
            }
        }
        #expect(counter.withLock { $0 } == 400_000)
    }

    @Test("withLock returns the body's value and rethrows its typed error, leaving the lock free")
    func resultsAndErrors() {
        struct Refused: Error, Equatable {}
        let value = LockedValue([1, 2, 3])
        #expect(value.withLock { $0.reduce(0, +) } == 6)
        #expect(throws: Refused.self) {
            try value.withLock { (numbers) throws(Refused) in
                numbers.append(4)
                throw Refused()
            }
        }
        // The mutation before the throw stands, and the lock is free again.
        #expect(value.withLock { $0 } == [1, 2, 3, 4])
    }
}
