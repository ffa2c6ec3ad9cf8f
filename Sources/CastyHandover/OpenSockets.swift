#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation
import NIOCore

/// This process's open TCP sockets, found by their addresses: SwiftNIO does not say which
/// descriptor a channel uses, so the hand-over finds each channel's socket by its local and remote
/// address among the descriptors in `/proc/self/fd` (Linux).
public struct OpenSockets: Sendable {
    /// A socket's addresses (`remote` is nil for a listening socket).
    struct Key: Hashable {
        var local: String
        var remote: String?
    }

    private(set) var descriptors: [Key: CInt] = [:]

    /// Looks at every descriptor of this process once.
    public init() {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        for name in names {
            guard let fd = CInt(name) else { continue }
            var info = stat()
            guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFSOCK, let local = Self.address(fd, peer: false) else { continue }
            var listening: CInt = 0
            var size = socklen_t(MemoryLayout<CInt>.size)
            getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &size)
            let key = Key(local: local, remote: listening != 0 ? nil : Self.address(fd, peer: true))
            if listening == 0 && key.remote == nil { continue }
            self.descriptors[key] = fd
        }
    }

    /// The descriptor of the socket with these addresses (`remote` nil: a listening socket).
    public func descriptor(local: SocketAddress?, remote: SocketAddress?) -> CInt? {
        guard let local = local.flatMap(Self.text) else { return nil }
        return self.descriptors[Key(local: local, remote: remote.flatMap(Self.text))]
    }

    /// `ip:port` of a NIO address.
    static func text(_ address: SocketAddress) -> String? {
        guard let ip = address.ipAddress, let port = address.port else { return nil }
        return "\(ip):\(port)"
    }

    /// `ip:port` of a descriptor's own (or its peer's) address.
    private static func address(_ fd: CInt, peer: Bool) -> String? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { peer ? getpeername(fd, $0, &length) : getsockname(fd, $0, &length) }
        }
        guard result == 0 else { return nil }
        let address: SocketAddress
        switch Int32(storage.ss_family) {
        case AF_INET:
            address = withUnsafeBytes(of: storage) { SocketAddress($0.load(as: sockaddr_in.self), host: "") }
        case AF_INET6:
            address = withUnsafeBytes(of: storage) { SocketAddress($0.load(as: sockaddr_in6.self), host: "") }
        default:
            return nil
        }
        return Self.text(address)
    }
}
