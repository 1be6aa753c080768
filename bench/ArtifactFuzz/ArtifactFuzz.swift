import Foundation
import Pipeline

/// The artifact reader under fuzzing: any bytes as an object file are opened, verified (deep) and
/// read as a table, from memory as the reader's byte source; every outcome but an error thrown is a
/// defect (a crash, a hang, an allocation beyond the claim). Built by `bench/fuzz.sh` with libFuzzer (`-sanitize=fuzzer -DFUZZING`); a
/// plain build replays the files named on the command line (a corpus, or a crash to reproduce).
enum ArtifactFuzz {
  static func check(_ bytes: UnsafeRawBufferPointer) {
    guard let reader = try? ArtifactReader(source: MemoryBytes(Array(bytes), name: "fuzz input")) else { return }
    // What a reader may claim to unpack is bounded by the file (`verify` streams it); a table read
    // allocates the claim, so only modest ones are read whole.
    try? reader.verify(hashes: true, workers: 1)
    if reader.manifest.rawBytes <= 64 << 20 { _ = try? reader.table(workers: 1) }
    _ = reader.manifest.contentID()
  }
}

#if FUZZING
  /// libFuzzer's entry for a program that has its own main (SwiftPM gives every executable one).
  @_silgen_name("LLVMFuzzerRunDriver")
  func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
  ) -> CInt

  @main
  struct ArtifactFuzzDriver {
    static func main() {
      var argc = CommandLine.argc
      var argv = CommandLine.unsafeArgv
      exit(
        runFuzzerDriver(&argc, &argv) { data, size in
          ArtifactFuzz.check(UnsafeRawBufferPointer(start: data, count: size))
          return 0
        })
    }
  }
#else
  @main
  struct ArtifactFuzzReplay {
    static func main() throws {
      for path in CommandLine.arguments.dropFirst() {
        let bytes = try FileSystem.readAll(path)
        bytes.withUnsafeBytes { ArtifactFuzz.check($0) }
        print("\(path): read without a crash")
      }
    }
  }
#endif
