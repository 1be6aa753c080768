import Foundation

/// The one lock that guards a store against two writers. It is an advisory `flock`, so the kernel
/// releases it when its holder dies; the file also names the holder so a waiting run can say who it
/// waits for, and a run that finds the name of a dead process knows the previous holder was killed.
public final class StoreLock: Sendable {
  /// What the lock file says about its holder.
  public struct Holder: Codable, Sendable {
    public var pid: Int32
    public var command: String
    public var since: Date
  }

  private let file: FileDescriptor

  /// Takes the lock at `path`, waiting for another holder when there is one.
  /// - Parameters:
  ///   - waiting: called once, before blocking, with the current holder (if the file names one).
  ///   - clearedStale: called when the file names a process that died holding the lock.
  public init(
    path: String, command: String,
    waiting: (Holder?) -> Void = { _ in }, clearedStale: (Holder) -> Void = { _ in }
  ) throws {
    file = try FileDescriptor.open(path, .readWriteCreate)
    if try !file.lockExclusive(wait: false) {
      waiting(StoreLock.readHolder(file))
      _ = try file.lockExclusive(wait: true)
    }
    // We hold the flock, so whoever the record names does not. Only a record naming a process that
    // is gone says a run died holding it; a live one (a reused or planted pid) is just overwritten.
    if let previous = StoreLock.readHolder(file), previous.pid != FileSystem.processID, !FileSystem.isRunning(previous.pid) {
      clearedStale(previous)
    }
    let me = Holder(pid: FileSystem.processID, command: command, since: Date())
    try file.truncate(to: 0)
    try file.writeAll(Array(try JSONEncoder().encode(me)))
    try file.sync()
  }

  /// Empties the holder record, then releases the lock (closing the descriptor releases the flock).
  public func release() {
    try? file.truncate(to: 0)
    file.close()
  }

  private static func readHolder(_ file: FileDescriptor) -> Holder? {
    guard let bytes = try? file.read(count: 4096, at: 0), !bytes.isEmpty else { return nil }
    return try? JSONDecoder().decode(Holder.self, from: Data(bytes))
  }
}
