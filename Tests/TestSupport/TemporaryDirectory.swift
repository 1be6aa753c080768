import Foundation
import Pipeline

/// A fresh folder under /tmp for one test, removed when the value goes away. Tests run in parallel;
/// each uses its own folder and its own store.
public final class TemporaryDirectory: @unchecked Sendable {
  public let path: String

  public init() {
    var template = Array("/tmp/hmpipe-test-XXXXXX".utf8CString)
    path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
  }

  deinit { FileSystem.removeTree(path) }

  /// Writes `text` to `name` inside the folder and returns its path.
  @discardableResult
  public func write(_ name: String, _ text: String) -> String {
    let file = path + "/" + name
    try! FileSystem.writeAtomically(Array(text.utf8), to: file)
    return file
  }
}

/// The built executable `name`, found beside the test bundle.
public func builtExecutable(_ name: String) -> String {
  var dir = FileSystem.dirname(of: FileSystem.absolute(CommandLine.arguments[0]))
  while dir != "/" {
    if FileSystem.exists(dir + "/" + name) && !FileSystem.isDirectory(dir + "/" + name) { return dir + "/" + name }
    dir = FileSystem.dirname(of: dir)
  }
  return FileSystem.absolute(".build/debug/" + name)
}
