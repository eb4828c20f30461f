import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Keeps the daemon's resident memory flat over thousands of cycles on glibc.
///
/// glibc's allocator gives threads arenas of their own (up to eight per core) and keeps what
/// is freed in them. A cycle's tenant model and page buffers are allocated on whichever
/// threads run it, so without these settings the resident size drifts up, in steps, to the
/// high-water mark of every arena that ever held a cycle: the daemon soak measured +12.7 %
/// after warm-up, against +1.9 % with two arenas (docs/performance.md, "Daemon soak").
///
/// The functions come from `<malloc.h>`, which the Glibc module does not import; they are
/// looked up at run time and do nothing on other C libraries.
enum MemoryTuning {
    /// At start, before the daemon's threads allocate: at most two arenas, unless the operator
    /// chose a number with `MALLOC_ARENA_MAX`.
    static func limitArenas(environment: [String: String]) {
        guard environment["MALLOC_ARENA_MAX"] == nil else { return }
        _ = mallopt?(arenaMaxParameter, 2)
    }

    /// After each cycle, before the daemon idles: hands the memory the cycle freed back to the kernel.
    static func returnFreedMemory() {
        _ = mallocTrim?(0)
    }

    /// `M_ARENA_MAX` in `<malloc.h>`.
    private static let arenaMaxParameter: Int32 = -8

    private static let mallopt: (@convention(c) (Int32, Int32) -> Int32)? = symbol("mallopt")
    private static let mallocTrim: (@convention(c) (UInt) -> Int32)? = symbol("malloc_trim")

    private static func symbol<Function>(_ name: String) -> Function? {
        #if canImport(Glibc)
        guard let address = dlsym(dlopen(nil, RTLD_NOW), name) else { return nil }
        return unsafeBitCast(address, to: Function.self)
        #else
        return nil
        #endif
    }
}
