import Glibc

/// A failed system call, with the path and the operation, in words a user can act on.
public struct SystemError: Error, Sendable, CustomStringConvertible {
  public var operation: String
  public var path: String
  public var errno: Int32
  public var description: String { "cannot \(operation) \(path): \(String(cString: strerror(errno)))" }
}

/// Retries a system call interrupted by a signal.
@inline(__always)
func retrying<T: FixedWidthInteger>(_ call: () -> T) -> T {
  while true {
    let r = call()
    if r == -1 && errno == EINTR { continue }
    return r
  }
}
