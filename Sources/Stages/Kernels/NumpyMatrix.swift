import Pipeline

/// A 1- or 2-D array read from NumPy `.npy` bytes (format 1.0/2.0, C order, little-endian):
/// float32, float16 or int64, as an external model's embeddings and their ids arrive.
public struct NumpyMatrix: Sendable {
  public var rows: Int
  public var columns: Int
  /// Row-major values as Float (float16 widened), for float arrays.
  public var floats: [Float] = []
  /// The values of an int64 array.
  public var integers: [Int64] = []

  public struct FormatError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var message: String
    public var description: String { "\(FileSystem.basename(of: file)): \(message)" }
  }

  public init(_ input: InputBytes) throws {
    let bytes = input.bytes
    let fail = { (message: String) in FormatError(file: input.name, message: message) }
    guard bytes.count >= 10, bytes[0] == 0x93, String(decoding: UnsafeRawBufferPointer(rebasing: bytes[1..<6]), as: UTF8.self) == "NUMPY"
    else {
      throw fail("not a NumPy .npy file")
    }
    let major = bytes[6]
    let headerLength =
      major == 1
      ? Int(bytes[8]) | Int(bytes[9]) << 8
      : bytes.count >= 12 ? Int(bytes.loadUnaligned(fromByteOffset: 8, as: UInt32.self).littleEndian) : Int.max / 2
    let dataStart = (major == 1 ? 10 : 12) + headerLength
    guard dataStart <= bytes.count else { throw fail("its header is cut short") }
    let header = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[(major == 1 ? 10 : 12)..<dataStart]), as: UTF8.self)
    guard !header.contains("'fortran_order': True") else { throw fail("Fortran-order arrays are not supported; save it C-ordered") }
    guard let descr = NumpyMatrix.field("descr", in: header), let shapeText = NumpyMatrix.field("shape", in: header) else {
      throw fail("its header has no descr or shape")
    }
    let dims = shapeText.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    let shape = dims.compactMap { Int($0) }.filter { $0 >= 0 }
    guard (1...2).contains(shape.count), shape.count == dims.count else {
      throw fail("expected a 1-D or 2-D array of non-negative sizes, got shape (\(shapeText))")
    }
    rows = shape[0]
    columns = shape.count == 2 ? shape[1] : 1
    let width = descr.hasSuffix("2") ? 2 : descr.hasSuffix("4") ? 4 : 8
    // A hostile header may claim any shape: the byte count it implies must not overflow.
    let (count, overflow) = rows.multipliedReportingOverflow(by: columns)
    let (needed, overflow2) = count.multipliedReportingOverflow(by: width)
    guard !overflow, !overflow2, bytes.count - dataStart >= needed else {
      throw fail(
        "holds \(bytes.count - dataStart) data bytes, its shape (\(shapeText)) needs \(overflow || overflow2 ? "more than exist" : "\(needed)")"
      )
    }
    let data = UnsafeRawBufferPointer(rebasing: bytes[dataStart...])
    switch descr {
    case "<f4": floats = (0..<count).map { Float(bitPattern: data.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self).littleEndian) }
    case "<f2":
      floats = (0..<count).map { Float(Float16(bitPattern: data.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self).littleEndian)) }
    case "<i8": integers = (0..<count).map { Int64(littleEndian: data.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self)) }
    default: throw fail("dtype \(descr) is not supported (float32, float16 or int64)")
    }
  }

  /// The text of `key` in a header dict like `{'descr': '<f4', 'shape': (3, 2), }`.
  static func field(_ key: String, in header: String) -> String? {
    guard let start = header.range(of: "'\(key)':") else { return nil }
    let rest = header[start.upperBound...].drop { $0 == " " }
    if rest.first == "'" { return String(rest.dropFirst().prefix { $0 != "'" }) }
    if rest.first == "(" { return String(rest.dropFirst().prefix { $0 != ")" }) }
    return nil
  }
}
