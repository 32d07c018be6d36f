// Which OpenMP team sizes the GEMMs really ran with: a test at "T = 2" proves nothing about the
// threaded code unless its layers are large enough to fork a team.
import CKernels

enum TeamProbe {
    /// The largest team a GEMM called from this thread ran with since the previous call (1: on
    /// this thread alone; 0: no GEMM), then starts over.
    static func take() -> Int { Int(ck_gemm_team_probe()) }
}
