import Foundation
import Pipeline
import Stages

/// Startup work that must happen before any library initialises.
enum Startup {
  /// Picks OpenBLAS's kernel for this processor, re-executing once with `OPENBLAS_CORETYPE` set
  /// (it is read when the library loads, before `main`). Only `run` computes, so only `run` pays
  /// for the second start.
  static func chooseBLASKernel() {
    guard CommandLine.arguments.dropFirst().first == "run" else { return }
    let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
    if let core = BLASKernel.choice(environment: ProcessInfo.processInfo.environment, cpuinfo: cpuinfo) {
      SelfExec.restart(setting: "OPENBLAS_CORETYPE", to: core)
    }
  }

  /// What the run records say about the numeric libraries in use.
  static var facts: [String: String] {
    ["openblas_core": BLAS.coreName, "openblas_coretype_env": ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? "unset"]
  }
}
