// Which OpenMP team sizes the GEMMs and blocked convolutions really ran with: a test at "T = 2"
// proves nothing about the threaded code unless its layers are large enough to fork a team.
import CKernels

enum TeamProbe {
    /// The largest team a GEMM or blocked convolution called from this thread ran with since the
    /// previous call (1: on this thread alone; 0: none ran), then starts over.
    static func take() -> Int { Int(ck_team_probe()) }
}
