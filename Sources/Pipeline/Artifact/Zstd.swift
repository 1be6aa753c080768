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
    transpose(source, width: width, into: out, shuffling: true)
  }

  static func unshuffle(_ source: UnsafeRawBufferPointer, width: Int, into out: UnsafeMutableRawBufferPointer) {
    transpose(source, width: width, into: out, shuffling: false)
  }

  /// Stored byte `b·n + i` is byte `b` of element `i`: `shuffling` goes from elements to stored
  /// bytes, otherwise back.
  private static func transpose(
    _ source: UnsafeRawBufferPointer, width: Int, into out: UnsafeMutableRawBufferPointer, shuffling: Bool
  ) {
    func words<Word: FixedWidthInteger & UnsignedInteger & SIMDScalar>(_: Word.Type) {
      if shuffling { shuffle(source, into: out, as: Word.self) } else { unshuffle(source, into: out, as: Word.self) }
    }
    switch width {
    case 2: words(UInt16.self)
    case 4: words(UInt32.self)
    case 8: words(UInt64.self)
    default:
      let n = source.count / width
      for b in 0..<width {
        for i in 0..<n {
          let (from, to) = shuffling ? (i * width + b, b * n + i) : (b * n + i, i * width + b)
          out[to] = source[from]
        }
      }
    }
  }

  // The common widths sixteen elements at a time: sixteen bytes of each lane and one vector of
  // elements, instead of `width` passes of single-byte strided stores. Byte b of an element is
  // bits 8b..<8b+8 of its value (little-endian, as on every platform hmpipe builds for).

  @inline(__always)
  private static func shuffle<Word: FixedWidthInteger & UnsignedInteger & SIMDScalar>(
    _ source: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer, as _: Word.Type
  ) {
    let width = MemoryLayout<Word>.size, n = source.count / width, lanes = out.baseAddress!
    var i = 0
    while i + 16 <= n {
      let words = source.loadUnaligned(fromByteOffset: i * width, as: SIMD16<Word>.self)
      for b in 0..<width {
        let bytes = SIMD16<UInt8>(truncatingIfNeeded: words &>> Word(8 * b))
        lanes.storeBytes(of: bytes, toByteOffset: b * n + i, as: SIMD16<UInt8>.self)
      }
      i += 16
    }
    for i in i..<n {
      let word = source.loadUnaligned(fromByteOffset: i * width, as: Word.self)
      for b in 0..<width { lanes.storeBytes(of: UInt8(truncatingIfNeeded: word >> (8 * b)), toByteOffset: b * n + i, as: UInt8.self) }
    }
  }

  @inline(__always)
  private static func unshuffle<Word: FixedWidthInteger & UnsignedInteger & SIMDScalar>(
    _ source: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer, as _: Word.Type
  ) {
    let width = MemoryLayout<Word>.size, n = source.count / width
    var i = 0
    while i + 16 <= n {
      var words = SIMD16<Word>.zero
      for b in 0..<width {
        let bytes = source.loadUnaligned(fromByteOffset: b * n + i, as: SIMD16<UInt8>.self)
        words |= SIMD16<Word>(truncatingIfNeeded: bytes) &<< Word(8 * b)
      }
      out.storeBytes(of: words, toByteOffset: i * width, as: SIMD16<Word>.self)
      i += 16
    }
    for i in i..<n {
      var word = Word.zero
      for b in 0..<width { word |= Word(source[b * n + i]) << (8 * b) }
      out.storeBytes(of: word, toByteOffset: i * width, as: Word.self)
    }
  }
}
