import CKernels
import Synchronization

/// Process-wide engine settings and facts.
public enum Engine {
    private static let threadCount = Atomic<Int>(1)

    /// Threads used by the engine's own parallel loops and by the BLAS. Default 1; set from `--threads`.
    public static var threads: Int {
        get { threadCount.load(ordering: .relaxed) }
        set {
            let n = Swift.max(1, newValue)
            threadCount.store(n, ordering: .relaxed)
            _ = dl_blas_set_threads(Int32(n))
        }
    }

    /// Description of the BLAS in use ("OpenBLAS …", "Accelerate", or "fallback").
    public static var blasName: String { String(cString: dl_blas_name()) }
    /// Path of the loaded BLAS library, empty for the built-in fallback.
    public static var blasPath: String { String(cString: dl_blas_path()) }

    /// Prepares the allocator and BLAS; safe to call more than once.
    public static func configure(threads: Int = 1) {
        dl_tune_allocator()
        Engine.threads = threads
    }

    /// Version of the library (also printed by `diffusion --version`). The book's experiment cache keys include it:
    /// raise it when a change alters results or figures (0.2.0: ten labs, text-to-image, legend placement).
    public static let version = "0.2.0"
}
