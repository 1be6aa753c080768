import Foundation

/// Python 3 as the tests use it: to check the repository's Python package against the Swift code.
public enum Python {
  /// Whether `python3` with numpy and zstandard is on PATH (scripts/setup.sh installs them).
  public static let isAvailable: Bool = (try? run("import numpy, zstandard").status) == 0

  /// The repository's python/ folder (what `pip install ./python` installs), to put on sys.path.
  public static var packageFolder: String {
    var dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path
    while !FileManager.default.fileExists(atPath: dir + "/python/hmpipe/__init__.py") {
      dir = URL(fileURLWithPath: dir).deletingLastPathComponent().path
    }
    return dir + "/python"
  }

  /// Runs `python3 -c script arguments…`; its exit status and stdout (stderr is discarded).
  public static func run(_ script: String, _ arguments: [String] = []) throws -> (status: Int32, stdout: String) {
    try Program.run("/usr/bin/env", ["python3", "-c", script] + arguments)
  }
}

/// Another program the tests check against (Python, a headless browser).
public enum Program {
  /// Runs `executable` with `arguments` to its end; its exit status and stdout (stderr is discarded).
  public static func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, stdout: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let out = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle.nullDevice
    try process.run()
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: stdout, as: UTF8.self))
  }
}
