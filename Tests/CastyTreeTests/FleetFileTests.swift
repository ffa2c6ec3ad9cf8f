import CastyTree
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

    @Test func aStandbyIsOptionalAndNamedLikeAnyNode() throws {
        let plain = try FleetFile.parse(Data(Self.good.utf8))
        #expect(plain.standby == nil)
        #expect(plain.nodes.map(\.name) == ["root", "m1"])
        let json = """
            {"upstream": "http://127.0.0.1:18000/stream", "fanout": 2, "secret": "s",
             "ingest": {"name": "root", "host": "127.0.0.1", "port": 8000},
             "standby": {"name": "root2", "host": "127.0.0.1", "port": 8009},
             "mirrors": [{"name": "m1", "host": "127.0.0.1", "port": 8001}]}
            """
        let fleet = try FleetFile.parse(Data(json.utf8))
        #expect(fleet.standby == FleetFile.Node(name: "root2", host: "127.0.0.1", port: 8009))
        #expect(try fleet.node(named: "root2").port == 8009)
        #expect(fleet.nodes.map(\.name) == ["root", "root2", "m1"])
        // Written back, it reads the same; without a standby, no key is written.
        #expect(try FleetFile.parse(JSONEncoder().encode(fleet)) == fleet)
        #expect(!String(decoding: try JSONEncoder().encode(plain), as: UTF8.self).contains("standby"))
    }

    @Test(arguments: [
        (#""standby": {"name": "m1", "host": "h", "port": 9}"#, "two nodes are named 'm1'"),
        (#""standby": {"name": "root2", "host": "127.0.0.1", "port": 8000}"#, "uses 127.0.0.1:8000, which another node uses too"),
        (#""standby": {"name": "root2", "host": "h"}"#, "missing key \"port\" in standby"),
        (#""standby": {"name": "ro ot", "host": "h", "port": 9}"#, "node name 'ro ot'"),
    ])
    func refusesABadStandby(_ standby: String, _ message: String) {
        let json = #"{"upstream": "http://x", "fanout": 2, "secret": "s", "ingest": {"name": "root", "host": "127.0.0.1", "port": 8000}, "#
            + standby + #", "mirrors": [{"name": "m1", "host": "h", "port": 1}]}"#
        #expect {
            _ = try FleetFile.parse(Data(json.utf8))
        } throws: { error in
            (error as? FleetFileError)?.message.contains(message) == true
        }
    }

    @Test func aNodeMayNameItsCertificateAndKey() throws {
        let json = """
            {"upstream": "http://x", "fanout": 2, "secret": "s", "ingest": {"name": "root", "host": "h", "port": 1},
             "mirrors": [{"name": "m1", "host": "h", "port": 2, "tls": {"cert": "/etc/letsencrypt/live/m1/fullchain.pem",
                          "key": "/etc/letsencrypt/live/m1/privkey.pem", "mode": "auto"}}]}
            """
        let fleet = try FleetFile.parse(Data(json.utf8))
        #expect(fleet.ingest.tls == nil)
        #expect(fleet.mirrors[0].tls == FleetFile.TLS(cert: "/etc/letsencrypt/live/m1/fullchain.pem", key: "/etc/letsencrypt/live/m1/privkey.pem", mode: "auto"))
        #expect(try FleetFile.parse(JSONEncoder().encode(fleet)) == fleet)
    }

    @Test(arguments: [
        (#""tls": {"cert": "c.pem"}"#, "missing key \"key\" in mirrors[0].tls"),
        (#""tls": {"cert": "", "key": "k.pem"}"#, "node 'm1': \"tls\" needs both \"cert\" and \"key\""),
        (#""tls": {"cert": "c.pem", "key": "k.pem", "mode": "sometimes"}"#, "node 'm1': \"tls.mode\" must be \"auto\""),
        (#""tls": {"cert": "c.pem", "key": "k.pem", "mode": "only"}"#, "the nodes' own links are plain http"),
    ])
    func refusesABadTLSEntry(_ tls: String, _ message: String) {
        let json = #"{"upstream": "http://x", "fanout": 2, "secret": "s", "ingest": {"name": "root", "host": "h", "port": 1}, "mirrors": [{"name": "m1", "host": "h", "port": 2, "#
            + tls + "}]}"
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
