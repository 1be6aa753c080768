/// Where an artifact's bytes come from: the reader asks for ranges, never for a path, so an object
/// can be read from a file in a store, a download being checked, or memory.
public protocol ByteSource: Sendable {
  /// What to name in messages: a path, a URL.
  var name: String { get }
  var size: Int { get }
  /// Reads `buffer.count` bytes at `offset`; returns fewer only at the end.
  func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws -> Int
}

extension ByteSource {
  /// Up to `count` bytes at `offset`.
  public func read(count: Int, at offset: Int) throws -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: count)
    let got = try bytes.withUnsafeMutableBytes { try read(into: $0, at: offset) }
    bytes.removeLast(count - got)
    return bytes
  }
}

/// An open file as a byte source; closed when the last reader lets it go.
public final class FileBytes: ByteSource {
  private let file: FileDescriptor
  public let size: Int
  public var name: String { file.path }

  public init(path: String) throws {
    file = try FileDescriptor.open(path, .read)
    do { size = try file.size() } catch {
      file.close()
      throw error
    }
  }

  deinit { file.close() }

  public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws -> Int {
    try file.read(into: buffer, at: offset)
  }
}

/// Bytes in memory as a byte source (an object received whole, a fuzzer's input).
public struct MemoryBytes: ByteSource {
  public let bytes: [UInt8]
  public let name: String
  public var size: Int { bytes.count }

  public init(_ bytes: [UInt8], name: String) {
    self.bytes = bytes
    self.name = name
  }

  public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws -> Int {
    let n = max(0, min(buffer.count, bytes.count - offset))
    guard n > 0 else { return 0 }
    bytes.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + n)])) }
    return n
  }
}
