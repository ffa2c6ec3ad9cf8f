import CastyCore
import Foundation
import Testing

@Suite struct FleetFileTests {
    static let good = """
        {"upstream": "http://127.0.0.1:18000/stream", "fanout": 2, "secret": "s",
         "ingest": {"name": "root", "host": "127.0.0.1", "port": 8000},
         "mirrors": [{"name": "m1", "host": "127.0.0.1", "port": 8001}]}
        """

    @Test func readsTheRepositoryFleetFile() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../fleet.json").path
        let fleet = try FleetFile.load(path: path)
        #expect(fleet.fanout == 2)
        #expect(fleet.ingest.name == "root")
        #expect(!fleet.mirrors.isEmpty)
        #expect(try fleet.node(named: fleet.mirrors[0].name) == fleet.mirrors[0])
    }

    @Test(arguments: [
        (#"{"fanout": 2, "secret": "s", "ingest": {"name": "r", "host": "h", "port": 1}, "mirrors": []}"#, "missing key \"upstream\""),
        (#"{"upstream": "http://x", "fanout": "2", "secret": "s", "ingest": {"name": "r", "host": "h", "port": 1}, "mirrors": []}"#, "fanout has the wrong type"),
        (#"{"upstream": "http://x", "fanout": 2, "secret": "s", "ingest": {"name": "r", "host": "h"}, "mirrors": []}"#, "missing key \"port\" in ingest"),
        (#"{"upstream": "http://x", "fanout": 2, "secret": "s", "ingest": {"name": "r", "host": "h", "port": 1}, "mirrors": [{"name": "r", "host": "h", "port": 2}]}"#, "two nodes are named 'r'"),
        (#"{"upstream": "http://x", "fanout": 2, "secret": "s", "ingest": {"name": "r", "host": "h", "port": 1}, "mirrors": [{"name": "m", "host": "h", "port": 1}]}"#, "uses h:1, which another node uses too"),
        (#"{"upstream": "ftp://x", "fanout": 2, "secret": "s", "ingest": {"name": "r", "host": "h", "port": 1}, "mirrors": []}"#, "must be an http:// or https:// URL"),
        (#"{"upstream": "http://x", "fanout": 0, "secret": "s", "ingest": {"name": "r", "host": "h", "port": 1}, "mirrors": []}"#, "\"fanout\" must be between 1 and 64"),
        (#"{"upstream": "http://x", "fanout": 2, "secret": "s", "ingest": {"name": "r", "host": "h", "port": 1}, "mirrors": [{"name": "m", "host": "h", "port": 70000}]}"#, "port 70000"),
        ("not json", "not valid JSON"),
    ])
    func refusesBadFleetFilesNamingTheProblem(_ json: String, _ message: String) {
        #expect {
            _ = try FleetFile.parse(Data(json.utf8))
        } throws: { error in
            (error as? FleetFileError)?.message.contains(message) == true
        }
    }

    @Test func unknownNodeIsNamed() throws {
        let fleet = try FleetFile.parse(Data(Self.good.utf8))
        #expect(throws: FleetFileError.self) { try fleet.node(named: "m9") }
    }
}
