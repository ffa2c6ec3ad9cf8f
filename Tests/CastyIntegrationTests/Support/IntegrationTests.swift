import Testing

/// Every integration suite is nested in this one and runs one test at a time: each test starts
/// several real processes (Icecast, ffmpeg, Casty nodes, Chromium), and on a 2-core machine tests
/// running side by side would starve each other's timing (an 800 ms silence is a failed parent).
@Suite(.serialized) struct IntegrationTests {}
