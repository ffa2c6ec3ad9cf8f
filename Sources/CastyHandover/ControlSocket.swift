#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import NIOConcurrencyHelpers
import NIOCore

/// A node's control socket: a Unix stream socket on which a new binary asks the running node to
/// hand over (`--take-over`), and over which the sockets travel (SCM_RIGHTS). Blocking calls with
/// timeouts, for a thread of their own; the hand-over is rare and short.
public enum ControlSocket {
    /// What went wrong, with what to do about it.
    public struct Failure: Error, CustomStringConvertible, Equatable {
        public var description: String

        init(_ description: String) { self.description = description }

        static func errno(_ what: String, path: String? = nil) -> Failure {
            let reason = String(cString: strerror(Glibc.errno))
            return Failure("\(what)\(path.map { " \($0)" } ?? ""): \(reason)")
        }
    }

    /// The default path for node `name` serving on `port`: `casty-NAME-PORT.control` in
    /// `$RUNTIME_DIRECTORY` (systemd's `RuntimeDirectory=`), else `$XDG_RUNTIME_DIR`, else `/tmp`
    /// (the port tells apart two fleets on one machine whose nodes have the same names).
    public static func defaultPath(name: String, port: Int, environment: [String: String]) -> String {
        let directory = environment["RUNTIME_DIRECTORY"].flatMap { $0.split(separator: ":").first.map(String.init) }
            ?? environment["XDG_RUNTIME_DIR"] ?? "/tmp"
        return "\(directory)/casty-\(name)-\(port).control"
    }

    /// Listens on `path`. A socket file left by a node that is gone is replaced; one that a running
    /// node answers on is not (two nodes of one name on one machine).
    public static func listen(path: String) throws(Failure) -> Listener {
        if let probe = try? Self.connect(path: path) {
            probe.close()
            throw Failure("another node answers on the control socket \(path); is this node already running? (to upgrade it, start the new binary with --take-over)")
        }
        unlink(path)
        let fd = try Self.socket()
        var address = try Self.address(path)
        let bound = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else {
            let failure = Failure.errno("cannot listen on the control socket", path: path)
            Glibc.close(fd)
            throw failure
        }
        chmod(path, 0o600)
        guard Glibc.listen(fd, 4) == 0 else {
            let failure = Failure.errno("cannot listen on the control socket", path: path)
            Glibc.close(fd)
            throw failure
        }
        return Listener(fd: fd, path: path)
    }

    /// Connects to the node listening on `path`.
    public static func connect(path: String) throws(Failure) -> Connection {
        let fd = try Self.socket()
        var address = try Self.address(path)
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else {
            let failure = Failure.errno("no running node answers on the control socket", path: path)
            Glibc.close(fd)
            throw failure
        }
        return Connection(fd: fd)
    }

    private static func socket() throws(Failure) -> CInt {
        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .errno("cannot make a Unix socket") }
        return fd
    }

    private static func address(_ path: String) throws(Failure) -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.count < capacity else { throw Failure("the control socket path \(path) is longer than \(capacity - 1) bytes; give a shorter one with --control-socket") }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
        }
        return address
    }

    /// Waits until `fd` is readable, for at most `timeout`; false on timeout.
    static func wait(_ fd: CInt, timeout: TimeAmount) throws(Failure) -> Bool {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let milliseconds = Int32(clamping: max(0, timeout.nanoseconds / 1_000_000))
        while true {
            let ready = poll(&poller, 1, milliseconds)
            if ready >= 0 { return ready > 0 }
            if Glibc.errno != EINTR { throw .errno("cannot wait on the control socket") }
        }
    }

    /// A listening control socket.
    public final class Listener: Sendable {
        let fd: CInt
        /// Its path.
        public let path: String

        init(fd: CInt, path: String) {
            self.fd = fd
            self.path = path
        }

        /// The next connection, or nil after `timeout`.
        public func accept(timeout: TimeAmount) throws(Failure) -> Connection? {
            guard try ControlSocket.wait(self.fd, timeout: timeout) else { return nil }
            let fd = Glibc.accept(self.fd, nil, nil)
            if fd >= 0 { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
            guard fd >= 0 else {
                if Glibc.errno == EAGAIN || Glibc.errno == EINTR || Glibc.errno == ECONNABORTED { return nil }
                throw .errno("cannot accept on the control socket", path: self.path)
            }
            return Connection(fd: fd)
        }

        /// Stops listening and removes the socket file, so that the node that takes over can
        /// listen on the same path.
        public func close() {
            unlink(self.path)
            Glibc.close(self.fd)
        }
    }

    /// One side of a control connection.
    ///
    /// `@unchecked Sendable`: its calls block, and are made one at a time from a thread of their
    /// own, but the connection may be handed between threads; its mutable state (the decoder and
    /// the sockets received) is only touched under `lock`.
    public final class Connection: @unchecked Sendable {
        let fd: CInt
        private let lock = NIOLock()
        private var decoder = HandoverMessageDecoder()  // under `lock`
        private var received: [CInt] = []  // under `lock`

        /// Sockets received so far, in order; the caller owns them.
        public var receivedDescriptors: [CInt] { self.lock.withLock { self.received } }

        init(fd: CInt) { self.fd = fd }

        /// The process on the other side (SO_PEERCRED), if the kernel says.
        public var peerPID: Int32? {
            // struct ucred { pid_t pid; uid_t uid; gid_t gid; } (not in Glibc's module map).
            var credentials: (pid: Int32, uid: UInt32, gid: UInt32) = (0, 0, 0)
            var size = socklen_t(MemoryLayout<(Int32, UInt32, UInt32)>.size)
            guard getsockopt(self.fd, SOL_SOCKET, SO_PEERCRED, &credentials, &size) == 0 else { return nil }
            return credentials.pid
        }

        /// Sends `message`; `descriptors` travel with its first bytes.
        public func send(_ message: HandoverMessage, descriptors: [CInt] = []) throws(Failure) {
            let bytes = message.encoded()
            var offset = 0
            // SCM_RIGHTS carries at most 253 descriptors per message: the rest ride on one-byte
            // sends of the body (every byte of it goes out once, with or without descriptors).
            var pending = descriptors[...]
            while offset < bytes.count {
                let batch = Array(pending.prefix(253))
                pending = pending.dropFirst(batch.count)
                let chunk = batch.isEmpty ? bytes.count - offset : (pending.isEmpty ? bytes.count - offset : 1)
                let sent = try self.sendmsg(bytes, offset: offset, length: chunk, descriptors: batch)
                offset += sent
            }
            guard pending.isEmpty else { throw Failure("\(pending.count) sockets left over: the message is shorter than the sockets need") }
        }

        private func sendmsg(_ bytes: [UInt8], offset: Int, length: Int, descriptors: [CInt]) throws(Failure) -> Int {
            var result = 0
            var failed = false
            bytes.withUnsafeBufferPointer { buffer in
                var vector = iovec(iov_base: UnsafeMutableRawPointer(mutating: buffer.baseAddress! + offset), iov_len: length)
                var header = msghdr()
                header.msg_iov = withUnsafeMutablePointer(to: &vector) { $0 }
                header.msg_iovlen = 1
                let controlLength = descriptors.isEmpty ? 0 : Self.space(descriptors.count)
                var control = [UInt8](repeating: 0, count: max(controlLength, 1))
                control.withUnsafeMutableBytes { raw in
                    withUnsafeMutablePointer(to: &vector) { vectorPointer in
                        header.msg_iov = vectorPointer
                        if controlLength > 0 {
                            header.msg_control = raw.baseAddress
                            header.msg_controllen = controlLength
                            let cmsg = raw.baseAddress!.assumingMemoryBound(to: cmsghdr.self)
                            cmsg.pointee.cmsg_level = SOL_SOCKET
                            cmsg.pointee.cmsg_type = Int32(SCM_RIGHTS)
                            cmsg.pointee.cmsg_len = Self.length(descriptors.count)
                            let data = raw.baseAddress! + MemoryLayout<cmsghdr>.stride
                            for (index, descriptor) in descriptors.enumerated() {
                                data.storeBytes(of: descriptor, toByteOffset: index * MemoryLayout<CInt>.size, as: CInt.self)
                            }
                        }
                        while true {
                            let sent = Glibc.sendmsg(self.fd, &header, Int32(MSG_NOSIGNAL))
                            if sent >= 0 {
                                result = sent
                                return
                            }
                            if Glibc.errno != EINTR {
                                failed = true
                                return
                            }
                        }
                    }
                }
            }
            if failed { throw .errno("cannot write to the control socket") }
            return result
        }

        /// Waits at most `timeout` for the next whole message.
        public func receive(timeout: TimeAmount) throws(Failure) -> HandoverMessage {
            let deadline = NIODeadline.now() + timeout
            while true {
                do {
                    if let message = try self.lock.withLock({ try self.decoder.next() }) { return message }
                } catch {
                    throw Failure("\(error)")
                }
                let left = deadline - .now()
                guard left > .zero, try ControlSocket.wait(self.fd, timeout: left) else {
                    throw Failure("no answer on the control socket within \(timeout.nanoseconds / 1_000_000) ms")
                }
                let read = try self.recvmsg()
                guard read > 0 else { throw Failure("the other process closed the control socket") }
            }
        }

        private func recvmsg() throws(Failure) -> Int {
            var buffer = [UInt8](repeating: 0, count: 256 * 1024)
            var control = [UInt8](repeating: 0, count: Self.space(253))
            var received: [CInt] = []
            var result = 0
            var failed = false
            buffer.withUnsafeMutableBytes { raw in
                control.withUnsafeMutableBytes { controlRaw in
                    var vector = iovec(iov_base: raw.baseAddress, iov_len: raw.count)
                    withUnsafeMutablePointer(to: &vector) { vectorPointer in
                        var header = msghdr()
                        header.msg_iov = vectorPointer
                        header.msg_iovlen = 1
                        header.msg_control = controlRaw.baseAddress
                        header.msg_controllen = controlRaw.count
                        while true {
                            let read = Glibc.recvmsg(self.fd, &header, Int32(MSG_CMSG_CLOEXEC))
                            if read >= 0 {
                                result = read
                                break
                            }
                            if Glibc.errno != EINTR {
                                failed = true
                                return
                            }
                        }
                        var offset = 0
                        while offset + MemoryLayout<cmsghdr>.size <= header.msg_controllen {
                            let cmsg = (controlRaw.baseAddress! + offset).assumingMemoryBound(to: cmsghdr.self)
                            let length = Int(cmsg.pointee.cmsg_len)
                            guard length >= MemoryLayout<cmsghdr>.stride else { break }
                            if cmsg.pointee.cmsg_level == SOL_SOCKET && cmsg.pointee.cmsg_type == Int32(SCM_RIGHTS) {
                                let count = (length - MemoryLayout<cmsghdr>.stride) / MemoryLayout<CInt>.size
                                let data = UnsafeRawPointer(controlRaw.baseAddress! + offset + MemoryLayout<cmsghdr>.stride)
                                for index in 0..<count {
                                    received.append(data.load(fromByteOffset: index * MemoryLayout<CInt>.size, as: CInt.self))
                                }
                            }
                            offset += (length + MemoryLayout<Int>.size - 1) & ~(MemoryLayout<Int>.size - 1)
                        }
                    }
                }
            }
            if failed { throw .errno("cannot read the control socket") }
            self.lock.withLock {
                self.received += received
                self.decoder.feed(buffer[0..<result])
            }
            return result
        }

        /// `CMSG_SPACE` for `count` descriptors.
        private static func space(_ count: Int) -> Int {
            let align = MemoryLayout<Int>.size
            let data = (count * MemoryLayout<CInt>.size + align - 1) & ~(align - 1)
            return MemoryLayout<cmsghdr>.stride + data
        }

        /// `CMSG_LEN` for `count` descriptors.
        private static func length(_ count: Int) -> Int {
            MemoryLayout<cmsghdr>.stride + count * MemoryLayout<CInt>.size
        }

        /// Closes the connection (not the descriptors received).
        public func close() {
            Glibc.close(self.fd)
        }
    }
}
