// swift-tools-version: 6.2
// 6.2: packages with unsafe C flags (OpenMP) can be depended upon.
import PackageDescription
import Foundation

// MARK: - Build switches (environment variables read at `swift build` time)
//   GOODINIT_NO_OPENMP=1  build the kernels without OpenMP (serial, same results)
//   GOODINIT_PORTABLE=1   no x86-64-v3 baseline: the C code outside the micro-kernels runs on any
//                         x86-64 (the AVX2 / AVX-512 micro-kernels are still chosen at run time)
// The kernels carry their own AVX2 and AVX-512 code (target attributes) and pick one from CPUID at
// run time, so one binary runs at full speed on AVX2-only and AVX-512 machines (never -march=native).
let env = ProcessInfo.processInfo.environment
let useOpenMP = env["GOODINIT_NO_OPENMP"] == nil
let baselineV3 = env["GOODINIT_PORTABLE"] == nil

// Debian's libomp-dev (LLVM 14 runtime). Its omp.h sits beside clang 14's builtin headers, so it is
// searched *after* the compiler's own (-idirafter) to keep clang 21's stddef.h & co. in front.
let ompRoot = "/usr/lib/llvm-14/lib"
let ompInclude = "\(ompRoot)/clang/14.0.6/include"

var kernelFlags = ["-O3", "-ffp-contract=on", "-std=c11"]
#if arch(x86_64)
if baselineV3 { kernelFlags.append("-march=x86-64-v3") } // AVX2 + FMA: every x86 CPU since 2013-15
#endif
if useOpenMP { kernelFlags += ["-fopenmp", "-idirafter", ompInclude] }
var kernelLink: [LinkerSetting] = []
if useOpenMP { kernelLink = [.unsafeFlags(["-L\(ompRoot)"]), .linkedLibrary("omp")] }

let package = Package(
    name: "GoodInit",
    platforms: [.macOS(.v15)], // 15: Synchronization.Atomic (the stop token)
    // MARK: - Public API
    products: [
        .library(name: "GoodInit", targets: ["GoodInit"]),
        .library(name: "CKernels", targets: ["CKernels"]),
        .executable(name: "goodinit", targets: ["goodinit"]),
    ],
    // MARK: - Build traits
    // MPI: data-parallel training over `mpirun` ranks (Open MPI, pkg-config ompi-c). Off by default:
    // `swift build -c release --traits MPI` (scripts/setup.sh --with-mpi installs Open MPI).
    traits: [.trait(name: "MPI", description: "Training over MPI ranks (needs libopenmpi-dev)")],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"), // .npz files
    ],
    targets: [
        // MARK: - Implementation
        .target(
            name: "CKernels",
            path: "CKernels",
            cSettings: [.unsafeFlags(kernelFlags)],
            linkerSettings: kernelLink),
        // named CSystemZlib: ZIPFoundation's own zlib module is called CZlib, and module names are global
        .systemLibrary(name: "CSystemZlib", path: "Sources/CZlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CJPEG", path: "Sources/CJPEG", providers: [.apt(["libjpeg62-turbo-dev"])]),
        // image decoding behind calls that never longjmp into Swift
        // (a C target does not autolink its system libraries' `link` lines: named here again)
        .target(name: "CImage", dependencies: ["CPNG", "CJPEG"], path: "Sources/CImage",
                linkerSettings: [.linkedLibrary("png16"), .linkedLibrary("jpeg")]),
        .systemLibrary(name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev"])]),
        .target(
            name: "GoodInit",
            dependencies: ["CKernels", "CSystemZlib", "CImage", .product(name: "Yams", package: "Yams"),
                           .product(name: "ZIPFoundation", package: "ZIPFoundation"),
                           // the settings' flag groups live beside the settings they fill
                           .product(name: "ArgumentParser", package: "swift-argument-parser"),
                           .target(name: "CMPI", condition: .when(traits: ["MPI"]))]),
        .executableTarget(
            name: "goodinit",
            dependencies: ["GoodInit", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        // MARK: - Tests
        .testTarget(name: "CKernelsTests", dependencies: ["CKernels"]),
        .testTarget(name: "GoodInitTests", dependencies: ["GoodInit", "CKernels",
                                                         .product(name: "ZIPFoundation", package: "ZIPFoundation")]),
        // MARK: - Fuzzing (scripts/fuzz.sh; without its -D GOODINIT_FUZZ this builds a replayer)
        .executableTarget(name: "goodinit-fuzz", dependencies: ["GoodInit"], path: "Fuzz/Sources"),
    ]
)
