import CastyNode
import CastyPeerProtocol
import CastyServer
import CastyTree
import NIOConcurrencyHelpers
import Testing
import CastyTreeTestSupport
import CastyTestSupport

/// A mirror's reports to the root, over an injected request: no network.
@Suite(.timeLimit(.minutes(1))) struct LossReporterTests {
    /// The URLs requested, answered with `status`.
    final class Requests: Sendable {
        let status: Int?
        private let urls = NIOLockedValueBox<[String]>([])
        init(status: Int?) { self.status = status }
        var all: [String] { self.urls.withLockedValue { $0 } }

        @Sendable func get(_ url: String) async -> Int? {
            self.urls.withLockedValue { $0.append(url) }
            return self.status
        }
    }

    @Test func theReportIsSignedWithTheFleetsSecret() throws {
        let reporter = LossReporter(name: "m1", secret: "s3cret", rootURL: "http://10.0.0.1:8000", logger: quiet) { _ in 200 }
        let url = reporter.reportURL(lostChild: "m3")
        let root = "http://10.0.0.1:8000"
        #expect(url.hasPrefix(root + LossReport.path + "?"))
        let report = try LossReport(target: String(url.dropFirst(root.count)))
        #expect(report.reporter == "m1")
        #expect(report.child == "m3")
        #expect(report.version == PeerProtocol.version)
        #expect(report.asJoin.hasValidProof(secret: "s3cret"))
        #expect(!report.asJoin.hasValidProof(secret: "another"))
        #expect(reporter.reportURL(lostChild: "m3") != url, "every report has a fresh nonce")
    }

    @Test func aReportIsSentLoggedAndItsStatusReturned() async throws {
        let requests = Requests(status: 200)
        let log = LogRecorder()
        let reporter = LossReporter(name: "m1", secret: "s3cret", rootURL: "http://root:8000", logger: log.logger, request: requests.get)
        #expect(await reporter.report(lostChild: "m3") == 200)
        #expect(requests.all.count == 1)
        let report = try LossReport(target: String(try #require(requests.all.first).dropFirst("http://root:8000".count)))
        #expect(report.child == "m3")
        let record = try #require(log.all.last)
        #expect(record.level == .info)
        #expect(record.message == "reported a lost child to the root")
        #expect(record.metadata["peer.name"] == "m3")
        #expect(record.metadata["http.status"] == "200")
    }

    @Test func aLeaveNoticeIsSignedSentAndLogged() async throws {
        let requests = Requests(status: 204)
        let log = LogRecorder()
        let reporter = LossReporter(name: "m1", secret: "s3cret", rootURL: "http://root:8000", logger: log.logger, request: requests.get)
        #expect(await reporter.announceLeave() == 204)
        let url = try #require(requests.all.first)
        #expect(url.hasPrefix("http://root:8000" + LeaveNotice.path + "?"))
        let notice = try LeaveNotice(target: String(url.dropFirst("http://root:8000".count)))
        #expect(notice.name == "m1" && notice.version == PeerProtocol.version)
        #expect(notice.asJoin.hasValidProof(secret: "s3cret"))
        #expect(log.all.last?.message == "told the root this mirror leaves")
        #expect(log.all.last?.metadata["http.status"] == "204")
    }

    @Test func aReportWithoutAnswerIsLoggedAsSuch() async {
        let log = LogRecorder()
        let reporter = LossReporter(name: "m1", secret: "s3cret", rootURL: "http://root:8000", logger: log.logger, request: Requests(status: nil).get)
        #expect(await reporter.report(lostChild: "m3") == nil)
        #expect(log.all.last?.metadata["http.status"] == "none")
    }

    @Test func theServersHooksRelocate() async throws {
        let requests = Requests(status: 200)
        let reporter = LossReporter(name: "m1", secret: "s3cret", rootURL: "http://root:8000", logger: quiet, request: requests.get)
        let parent = FakeParent()
        let hooks = reporter.hooks(relocating: parent)
        #expect(parent.relocations == 0)
        hooks.relocateSelf?()
        #expect(parent.relocations == 1)
        #expect(requests.all.isEmpty, "relocating sends nothing to the root")
    }

    @Test func theRootTakesTheReportAndRefusesAForgedOne() throws {
        let fleet = FleetFile.test(mirrors: [1, 3], port: 8000)
        let root = PeerDirectory(name: "root", fleet: fleet)
        let signed = LossReporter(name: "m1", secret: "s3cret", rootURL: "", logger: quiet) { _ in nil }.reportURL(lostChild: "m3")
        let forged = LossReporter(name: "m1", secret: "wrong", rootURL: "", logger: quiet) { _ in nil }.reportURL(lostChild: "m3")
        // m3 is no child of m1 in the root's (empty) tree: taken, and nothing changes.
        #expect(try root.childLost(try LossReport(target: signed)).get() == [])
        #expect(throws: JoinPolicy.Refusal.self) { try root.childLost(try LossReport(target: forged)).get() }
    }
}
