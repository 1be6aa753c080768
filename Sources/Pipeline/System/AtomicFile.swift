import Glibc
import Synchronization

/// A file written in pieces that appears at its path only when whole: the pieces go to a temporary
/// file beside it, then fsync, rename and a directory fsync. A crash leaves the old file (or none).
public struct AtomicFile: Sendable {
  private static let writes = Atomic<Int>(0)
  /// What the unfinished file's name adds to the path's: `.partial-PID-N`.
  public static let partialMarker = ".partial-"
  public let path: String
  private let temporary: String
  private let file: FileDescriptor

  public init(path: String) throws(SystemError) {
    self.path = path
    // Unique within the process too: parallel stages may write the same path (a shared input's
    // content hash) at once, and each must rename only its own file.
    temporary = path + Self.partialMarker + "\(FileSystem.processID)-\(Self.writes.wrappingAdd(1, ordering: .relaxed).oldValue)"
    file = try FileDescriptor.open(temporary, .createExclusive)
  }

  public func write(_ bytes: [UInt8]) throws(SystemError) { try file.writeAll(bytes) }

  public func write(_ bytes: UnsafeRawBufferPointer) throws(SystemError) { try file.writeAll(bytes) }

  /// Syncs the file and renames it into place.
  public func commit() throws(SystemError) {
    do { try file.sync() } catch {
      abandon()
      throw error
    }
    file.close()
    try FileSystem.rename(temporary, to: path)
  }

  /// Closes and deletes the unfinished file.
  public func abandon() {
    file.close()
    FileSystem.remove(temporary)
  }
}
