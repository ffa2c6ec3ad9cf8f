import CastyTree

extension FleetFile {
    /// The fleet the unit tests share: on 127.0.0.1, the ingest `root` at `port`, the mirrors
    /// `m1`, `m2`… (the numbers in `mirrors`) at `port + N`, and with `standby` the standby root
    /// `root2` at `standbyPort` (`port + 100` by default). The upstream is never pulled by a unit
    /// test; every other field is the fleet file's own, with its default when not given.
    ///
    ///     FleetFile.test()                          // root :9000, m1…m3 :9001…9003
    ///     FleetFile.test(mirrors: 1...7)            // m1…m7
    ///     FleetFile.test(mirrors: [1, 3], port: 8000, standby: true)
    public static func test(
        mirrors: some Sequence<Int> = 1...3,
        port: Int = 9000,
        standby: Bool = false,
        standbyPort: Int? = nil,
        fanout: Int = 2,
        secret: String = "s3cret",
        upstream: String = "http://127.0.0.1:1/",
        drainSeconds: Int? = nil,
        secretGraceSeconds: Int? = nil
    ) -> FleetFile {
        FleetFile(
            upstream: upstream,
            fanout: fanout,
            secret: secret,
            ingest: Node(name: "root", host: "127.0.0.1", port: port),
            mirrors: mirrors.map { Node(name: "m\($0)", host: "127.0.0.1", port: port + $0) },
            standby: standby ? Node(name: "root2", host: "127.0.0.1", port: standbyPort ?? port + 100) : nil,
            drainSeconds: drainSeconds,
            secretGraceSeconds: secretGraceSeconds
        )
    }
}
