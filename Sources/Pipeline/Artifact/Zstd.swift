import CZstd

/// A zstd failure, with the library's own explanation.
public struct ZstdError: Error, Sendable, CustomStringConvertible {
  public var message: String
  public var description: String { "zstd: \(message)" }
  init(code: Int) { message = String(cString: ZSTD_getErrorName(code)) }
  init(_ message: String) { self.message = message }
}

/// One zstd compression context: a worker makes one and reuses it for every chunk it compresses.
/// The only place (with `ZstdDecompressor`) that calls libzstd.
final class ZstdCompressor {
  private let context: OpaquePointer

  init(level: Int32) {
    guard let context = ZSTD_createCCtx() else { fatalError("zstd: out of memory creating a context") }
    self.context = context
    ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level)
    // Every frame carries a content checksum, so corruption is caught on every read.
    ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1)
  }

  deinit { ZSTD_freeCCtx(context) }

  /// Compresses `source` as one independent frame.
  func compress(_ source: UnsafeRawBufferPointer) throws(ZstdError) -> [UInt8] {
    let bound = ZSTD_compressBound(source.count)
    var failure: ZstdError?
    let frame = [UInt8](unsafeUninitializedCapacity: bound) { out, initialized in
      let written = ZSTD_compress2(context, out.baseAddress, bound, source.baseAddress, source.count)
      if ZSTD_isError(written) != 0 {
        failure = ZstdError(code: written)
        initialized = 0
      } else {
        initialized = written
      }
    }
    if let failure { throw failure }
    return frame
  }
}

/// One zstd decompression context, reused by a worker across chunks.
final class ZstdDecompressor {
  private let context: OpaquePointer

  init() {
    guard let context = ZSTD_createDCtx() else { fatalError("zstd: out of memory creating a context") }
    self.context = context
  }

  deinit { ZSTD_freeDCtx(context) }

  /// Decompresses one frame into `destination`, which must be exactly the frame's content size.
  /// The frame's checksum is verified by libzstd.
  func decompress(_ frame: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer)
    throws(ZstdError)
  {
    let written = ZSTD_decompressDCtx(
      context, destination.baseAddress, destination.count, frame.baseAddress, frame.count)
    if ZSTD_isError(written) != 0 { throw ZstdError(code: written) }
    if written != destination.count {
      throw ZstdError("frame holds \(written) bytes, expected \(destination.count)")
    }
  }
}

/// Byte transposition: byte `b` of every element is stored together. Floats and wide integers
/// compress far better this way, because their high bytes repeat.
enum ByteShuffle {
  static func shuffle(_ source: UnsafeRawBufferPointer, width: Int, into out: UnsafeMutableRawBufferPointer) {
    let n = source.count / width
    for b in 0..<width {
      let lane = b * n
      for i in 0..<n { out[lane + i] = source[i * width + b] }
    }
  }

  static func unshuffle(_ source: UnsafeRawBufferPointer, width: Int, into out: UnsafeMutableRawBufferPointer) {
    let n = source.count / width
    for b in 0..<width {
      let lane = b * n
      for i in 0..<n { out[i * width + b] = source[lane + i] }
    }
  }
}
