import CKernels

/// How the C kernels thread, for code outside the library (Kernels itself is internal).
public enum OpenMP {
    /// False when the kernels were built with GOODINIT_NO_OPENMP=1: every call then runs serially.
    public static var isAvailable: Bool { Kernels.hasOpenMP }
}
