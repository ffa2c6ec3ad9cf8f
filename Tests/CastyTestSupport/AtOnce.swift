/// How soon "at once" must be in a test that checks that something does not wait.
///
/// Such a test is built so that the wrong behaviour would wait 30 s or more (a request timeout, a
/// backoff, a drain), and it allows 10 s: far below what a fault would cost, and far above the
/// seconds for which a loaded 2-core CI machine, running every suite at once, may leave a test
/// process without a core. How fast things are is measured by the benchmarks, never here.
public let atOnce: Duration = .seconds(10)
