import Foundation
import Testing

/// Every integration suite is nested in this one and runs one test at a time: each test starts
/// several real processes (Icecast, ffmpeg, Casty nodes, Chromium), and on a 2-core machine tests
/// running side by side would starve each other's timing (an 800 ms silence is a failed parent).
///
/// They run when `CASTY_INTEGRATION=1` is set, as `scripts/test.sh` does after installing what
/// they need; a plain `swift test` runs the unit and in-process tests only, with no Python,
/// Icecast, ffmpeg or Chromium on the machine.
@Suite(
    .serialized,
    .enabled(
        if: ProcessInfo.processInfo.environment["CASTY_INTEGRATION"] == "1",
        "integration tests start Icecast, ffmpeg, Python and Chromium: set CASTY_INTEGRATION=1 (scripts/test.sh does)"
    )
)
struct IntegrationTests {}
