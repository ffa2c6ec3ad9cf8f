import CastyPeerProtocol

/// At the root: every node of the fleet as the root sees it (`nodes` in `/status.json`), from the
/// root's `tree` (mirror → parent), its own listeners and newest segment number, and its name (the
/// fleet's ingest unless its standby took over). Whatever polls the other nodes' status answers
/// it, outside the transport: the node hands the server its fleet monitor's view.
public typealias FleetNodes =
    @Sendable (_ tree: [String: String], _ root: (listeners: Int, seq: UInt64?), _ rootName: String) -> [NodeStatus.FleetNode]
