import CastyTree
import Testing

@Suite struct JoinAdmissionTests {
    @Test func aBurstIsAdmittedAtOnceAndTheRestIsToldWhenToComeBack() {
        var admission = JoinAdmission(rate: 100, burst: 5)
        let verdicts = (0..<8).map { _ in admission.admit(at: 10) }
        #expect(verdicts.prefix(5).allSatisfy { $0 == .admit })
        // The sixth would be admitted one interval (10 ms) later; refusals take nothing.
        for verdict in verdicts.dropFirst(5) {
            guard case .retry(let seconds) = verdict else {
                Issue.record("expected a retry, got \(verdict)")
                continue
            }
            #expect(abs(seconds - 0.01) < 1e-6)
        }
        #expect(admission.admit(at: 10.0099) != .admit)
        #expect(admission.admit(at: 10.0101) == .admit)
    }

    @Test func aSteadyStreamAtTheRateIsNeverRefused() {
        var admission = JoinAdmission(rate: 50, burst: 1)
        for index in 0..<1000 {
            #expect(admission.admit(at: 100 + Double(index) / 50) == .admit, "join \(index)")
        }
    }

    @Test func overAnySecondAStormGetsNoMoreThanRatePlusBurst() {
        var admission = JoinAdmission(rate: 200, burst: 40)
        // 5000 joiners knocking every millisecond for 3 s.
        var admittedAt: [Double] = []
        for millisecond in 0..<3000 {
            let now = Double(millisecond) / 1000
            for _ in 0..<5 where admission.admit(at: now) == .admit { admittedAt.append(now) }
        }
        for start in stride(from: 0.0, to: 2.0, by: 0.1) {
            let inWindow = admittedAt.filter { $0 >= start && $0 < start + 1 }.count
            #expect(inWindow <= 200 + 40, "\(inWindow) joins admitted in the second from \(start) s")
        }
        #expect(admittedAt.count >= 3 * 200, "the storm is served at the full rate")
    }

    @Test func aClockThatWentBackDoesNotLockEveryoneOut() {
        var admission = JoinAdmission(rate: 10, burst: 2)
        #expect(admission.admit(at: 1000) == .admit)
        #expect(admission.admit(at: 1000) == .admit)
        #expect(admission.admit(at: 1000) != .admit)
        #expect(admission.admit(at: 5) == .admit, "the clock went back 995 s")
    }
}
