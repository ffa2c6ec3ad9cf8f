import Foundation
import Testing

/// Every integration suite is nested in one of this suite's two lanes, ``Radios`` and ``Fleets``,
/// which run side by side; within a lane, one test at a time. Each test starts several real
/// processes (Icecast, ffmpeg, Casty nodes, Chromium) and mostly waits on real time (audio plays at
/// its own pace), so two at once keep a 2-core machine busy without starving either: every wait is
/// on an event with a deadline, not a fixed sleep. More than two would: an 800 ms silence is a
/// failed parent.
///
/// They run when `CASTY_INTEGRATION=1` is set, as `scripts/test.sh` does after installing what
/// they need; a plain `swift test` runs the unit and in-process tests only, with no Python,
/// Icecast, ffmpeg or Chromium on the machine.
@Suite(
    .enabled(
        if: ProcessInfo.processInfo.environment["CASTY_INTEGRATION"] == "1",
        "integration tests start Icecast, ffmpeg, Python and Chromium: set CASTY_INTEGRATION=1 (scripts/test.sh does)"
    )
)
struct IntegrationTests {
    /// The radio side of one ingest: every stream format, playlists, bad input, Icecast and
    /// SHOUTcast servers, upstream variants, silence, on demand. One test at a time.
    @Suite(.serialized) struct Radios {}

    /// The serving side: several Casty nodes (the tree and its healing, load, restarts, the
    /// standby root, live membership, upgrades by hand-over, the status page and metrics) and a
    /// node's own answers (bad requests, https). One test at a time. The two lanes take about
    /// the same time (about 9.5 minutes each on 2 cores), so a suite goes where it keeps them even.
    @Suite(.serialized) struct Fleets {}
}
