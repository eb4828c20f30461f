import AllotCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads configuration and policy files, bounded in size, and tells whether bytes are
/// UTF-8 text before the YAML parser sees them.
enum SourceFile {
    /// Files larger than this are refused unread: real ones are a few kilobytes.
    static let maximumSize = 1 << 20

    /// The file's bytes, or why they cannot be had (missing, a directory, over 1 MiB).
    ///
    /// - Parameter missingHint: appended to the message when the file does not exist.
    static func contents(of path: String, missingHint: String = "") -> Result<[UInt8], Diagnostic> {
        // O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused below); regular files ignore it.
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else {
            let code = errno
            let hint = code == ENOENT ? missingHint : ""
            return .failure(Diagnostic("\(path): cannot open: \(describe(code))\(hint)", at: nil))
        }
        defer { close(descriptor) }

        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            return .failure(Diagnostic("\(path): cannot read: \(describe(errno))", at: nil))
        }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            let kind = (status.st_mode & S_IFMT) == S_IFDIR ? "a directory" : "not a regular file"
            return .failure(Diagnostic("\(path): is \(kind), not a YAML file", at: nil))
        }

        var bytes = [UInt8](repeating: 0, count: maximumSize + 1)
        var count = 0
        while count < bytes.count {
            let got = bytes.withUnsafeMutableBytes { buffer in
                read(descriptor, buffer.baseAddress! + count, buffer.count - count)
            }
            if got < 0 {
                if errno == EINTR { continue }
                return .failure(Diagnostic("\(path): cannot read: \(describe(errno))", at: nil))
            }
            if got == 0 { break }
            count += got
        }
        guard count <= maximumSize else {
            return .failure(
                Diagnostic(
                    "file is larger than 1 MiB; configuration and policy files are a few kilobytes: is this the right file?",
                    at: SourceLocation(file: path, line: 1, column: 1)
                )
            )
        }
        bytes.removeSubrange(count...)
        return .success(bytes)
    }

    /// Why `bytes` is not UTF-8 text (a NUL byte, an invalid sequence), or nil.
    static func textProblem(_ bytes: [UInt8], file: String) -> Diagnostic? {
        if let nul = bytes.firstIndex(of: 0) {
            return Diagnostic(
                "not a text file (a NUL byte at offset \(nul)): Allot reads YAML written as UTF-8 text",
                at: location(ofOffset: nul, in: bytes, file: file)
            )
        }
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        var offset = 0
        while true {
            switch decoder.decode(&iterator) {
            case let .scalarValue(scalar):
                offset += UTF8.width(scalar)
            case .emptyInput:
                return nil
            case .error:
                return Diagnostic(
                    "not valid UTF-8 (a bad byte at offset \(offset)): save the file as UTF-8",
                    at: location(ofOffset: offset, in: bytes, file: file)
                )
            }
        }
    }

    private static func location(ofOffset offset: Int, in bytes: [UInt8], file: String) -> SourceLocation {
        let (line, column) = position(ofOffset: offset, in: bytes)
        return SourceLocation(file: file, line: line, column: column)
    }

    /// The 1-based line and column (in bytes) of a byte offset.
    static func position<Bytes: RandomAccessCollection<UInt8>>(
        ofOffset offset: Int,
        in bytes: Bytes
    ) -> (line: Int, column: Int)
    where Bytes.Index == Int {
        var line = 1
        var lineStart = 0
        for index in 0..<min(offset, bytes.count) where bytes[index] == UInt8(ascii: "\n") {
            line += 1
            lineStart = index + 1
        }
        return (line, max(1, offset - lineStart + 1))
    }

    private static func describe(_ code: Int32) -> String {
        String(cString: strerror(code)).lowercased()
    }
}
