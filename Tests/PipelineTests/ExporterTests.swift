import Foundation
import Testing

@testable import Pipeline

/// `hmpipe export`'s writer: a factor table becomes a NumPy matrix with its ids beside it, a file
/// artifact keeps its bytes, and a file that is not an array is not written into a `.npy`.
@Suite struct ExporterTests {
  /// The shape and payload of a version-1.0 `.npy` file.
  static func npy(_ bytes: [UInt8]) -> (header: String, payload: [UInt8]) {
    let length = Int(bytes[8]) | Int(bytes[9]) << 8
    return (String(decoding: bytes[10..<(10 + length)], as: UTF8.self), Array(bytes[(10 + length)...]))
  }

  @Test func aFactorTableIsAMatrixAndItsIds() throws {
    let dir = TemporaryDirectory()
    let factors: [Float] = [1, 2, 3, 4, 5, 6]
    let table = Table([Column("customer", [UInt32]([7, 9])), Column("factors", offsets: [0, 3, 6], values: factors)])
    let written = try Exporter.export(table, as: .npy, to: dir.path + "/users.npy")
    #expect(written == [dir.path + "/users.npy", dir.path + "/users_ids.npy"])
    let matrix = Self.npy(try FileSystem.readAll(written[0]))
    #expect(matrix.header.contains("'descr': '<f4'") && matrix.header.contains("'shape': (2, 3)"))
    #expect(matrix.payload == factors.withUnsafeBytes { Array($0) })
    let ids = Self.npy(try FileSystem.readAll(written[1]))
    #expect(ids.header.contains("'descr': '<u4'") && ids.header.contains("'shape': (2,)"))
    #expect(ids.payload == [UInt32]([7, 9]).withUnsafeBytes { Array($0) })
    let ragged = Table([Column("customer", [UInt32]([7, 9])), Column("factors", offsets: [0, 2, 6], values: factors)])
    #expect(throws: Exporter.ExportError.self) { try Exporter.export(ragged, as: .npy, to: dir.path + "/r.npy") }
  }

  @Test func aFileArtifactIsWrittenAsItIsAndNeverIntoANpyUnlessItIsOne() throws {
    let dir = TemporaryDirectory()
    var csv = Table.file(named: "submission.csv", bytes: Array("customer_id,prediction\n".utf8))
    csv.metadata["filename"] = "submission.csv"
    #expect(try Exporter.export(csv, as: .csv, to: dir.path + "/s.csv") == [dir.path + "/s.csv"])
    #expect(try FileSystem.readAll(dir.path + "/s.csv") == Array("customer_id,prediction\n".utf8))
    let error = try #require(throws: Exporter.ExportError.self) { try Exporter.export(csv, as: .npy, to: dir.path + "/s.npy") }
    #expect(error.message.contains("(submission.csv), not a NumPy array"))
    #expect(!FileSystem.exists(dir.path + "/s.npy"))
    let array = Table.file(named: "e.npy", bytes: NumpyFormat.header(descr: "<f4", shape: [0]))
    #expect(try Exporter.export(array, as: .npy, to: dir.path + "/e.npy") == [dir.path + "/e.npy"])
  }
}
