import Foundation
import Pipeline

/// An object's manifest as JSON, to rewrite: the footer is rebuilt around the new manifest (its
/// SHA-256 and length), so only the checks of the manifest's numbers can catch the lie.
public struct ObjectSurgery {
  public var data: [UInt8]  // magic and chunks, up to the manifest
  public var manifest: [String: Any]

  public init(_ path: String) throws {
    let bytes = try FileSystem.readAll(path)
    let footer = Array(bytes.suffix(56))
    let offset = footer.withUnsafeBytes { Int($0.loadUnaligned(fromByteOffset: 0, as: UInt64.self).littleEndian) }
    data = Array(bytes[0..<offset])
    manifest = try JSONSerialization.jsonObject(with: Data(bytes[offset..<(bytes.count - 56)])) as? [String: Any] ?? [:]
  }

  public var chunks: [[String: Any]] {
    get { ((manifest["columns"] as! [[String: Any]])[0]["buffers"] as! [[String: Any]])[0]["chunks"] as! [[String: Any]] }
    set { setBuffer(0, "chunks", newValue) }
  }

  public mutating func setBuffer(_ buffer: Int, _ key: String, _ value: Any) {
    var columns = manifest["columns"] as! [[String: Any]]
    var buffers = columns[0]["buffers"] as! [[String: Any]]
    buffers[buffer][key] = value
    columns[0]["buffers"] = buffers
    manifest["columns"] = columns
  }

  public func write(to path: String) throws {
    let json = try JSONSerialization.data(withJSONObject: manifest)
    var out = data + Array(json)
    withUnsafeBytes(of: UInt64(data.count).littleEndian) { out += $0 }
    withUnsafeBytes(of: UInt64(json.count).littleEndian) { out += $0 }
    let digest = Array(json).withUnsafeBytes { Digest.of($0).hex }
    out += stride(from: 0, to: 64, by: 2).map { UInt8(digest.dropFirst($0).prefix(2), radix: 16)! }
    out += Array("HMPIPEA1".utf8)
    try FileSystem.writeAtomically(out, to: path)
  }
}
