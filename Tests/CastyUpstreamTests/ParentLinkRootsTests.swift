import Atomics
import CastyPeerProtocol
import CastyStream
import CastyTestSupport
import Logging
import NIOConcurrencyHelpers
import Testing

@testable import CastyUpstream

/// A link through the two ingests of a fleet with a standby root, over fake transfers.
@Suite struct ParentLinkRootsTests {
    @Test func failedJoinsTryTheRootsInTurnWithTheTermAndTheObserverFlag() async throws {
        try await onDedicatedThread {
            let urls = NIOLockedValueBox<[String]>([])
            let term = ManagedAtomic<UInt64>(2)
            let link = ParentLink(
                name: "root", rootURLs: ["http://a.invalid:1", "http://b.invalid:2"], secret: { "s" }, observer: true,
                term: { term.load(ordering: .relaxed) }, logger: PullerAndLinkTests.quiet,
                backoff: ReconnectBackoff(initial: .milliseconds(5), maximum: .milliseconds(10))
            ) { transfer, _, _ in
                urls.withLockedValue { $0.append(transfer.configuration.url) }
                return .transport(code: 7, message: "Couldn't connect to server")
            }
            link.start(position: { ParentLink.Position(nextSeq: 42, stream: "abcd") }, sink: FakeSink(), onAccepted: { _ in }, onControl: { _ in }, onDown: { _ in })
            try await TransferWorkerTests.waitUntil { urls.withLockedValue { $0.count } >= 2 }
            term.store(3, ordering: .relaxed)
            // Joins built before the change may still come (a loaded machine): two more after it.
            let atChange = urls.withLockedValue { $0.count }
            try await TransferWorkerTests.waitUntil { urls.withLockedValue { $0.count } >= max(5, atChange + 2) }
            await link.stop()
            let seen = urls.withLockedValue { $0 }
            #expect(seen.prefix(5).map { $0.hasPrefix("http://a.invalid:1/") } == [true, false, true, false, true])
            let requests = try seen.map { try JoinRequest(target: String($0.drop { $0 != "/" }.dropFirst(2).drop { $0 != "/" })) }
            #expect(requests.allSatisfy { $0.observer && $0.from == 42 && $0.stream == "abcd" && $0.name == "root" })
            #expect(requests.first?.term == 2)
            #expect(requests.last?.term == 3)
        }
    }

    @Test func aMirrorsLinkSendsNoTermUnlessGivenOne() async throws {
        try await onDedicatedThread {
            let urls = NIOLockedValueBox<[String]>([])
            let link = ParentLink(
                name: "m1", rootURL: "http://a.invalid:1", secret: "s", logger: PullerAndLinkTests.quiet,
                backoff: ReconnectBackoff(initial: .milliseconds(5), maximum: .milliseconds(10))
            ) { transfer, _, _ in
                urls.withLockedValue { $0.append(transfer.configuration.url) }
                return .transport(code: 7, message: "Couldn't connect to server")
            }
            link.start(position: { ParentLink.Position(nextSeq: nil, stream: nil) }, sink: FakeSink(), onAccepted: { _ in }, onControl: { _ in }, onDown: { _ in })
            try await TransferWorkerTests.waitUntil { urls.withLockedValue { $0.count } >= 2 }
            await link.stop()
            #expect(urls.withLockedValue { $0 }.allSatisfy { $0.hasPrefix("http://a.invalid:1/casty/v1/join?") && !$0.contains("term=") && !$0.contains("observer=") })
        }
    }

    @Test func aRootThatAnswers503IsAskedAgainNotTheOther() async throws {
        try await onDedicatedThread {
            let urls = NIOLockedValueBox<[String]>([])
            let link = ParentLink(
                name: "m1", rootURLs: ["http://a.invalid:1", "http://b.invalid:2"], rootNames: ["root", "root2"], secret: { "s" },
                logger: PullerAndLinkTests.quiet, backoff: ReconnectBackoff(initial: .milliseconds(5), maximum: .milliseconds(10))
            ) { transfer, _, _ in
                let count = urls.withLockedValue {
                    $0.append(transfer.configuration.url)
                    return $0.count
                }
                // The first three joins reach a standby about to take over; then it is unreachable.
                return count <= 3 ? .status(code: 503, line: "HTTP/1.0 503 Service Unavailable") : .transport(code: 7, message: "Couldn't connect to server")
            }
            link.start(position: { ParentLink.Position(nextSeq: nil, stream: nil) }, sink: FakeSink(), onAccepted: { _ in }, onControl: { _ in }, onDown: { _ in })
            try await TransferWorkerTests.waitUntil { urls.withLockedValue { $0.count } >= 6 }
            await link.stop()
            let seen = urls.withLockedValue { $0 }.prefix(6).map { $0.hasPrefix("http://a.invalid:1/") }
            #expect(seen == [true, true, true, true, false, true])
        }
    }
}
