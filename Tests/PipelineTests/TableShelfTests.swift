import Foundation
import Testing

@testable import Pipeline
@testable import pipeline_toy

/// The shelf keeps a run's written tables for the stages of the run that read them, and no longer.
@Suite struct TableShelfTests {
  /// The toy pipeline: source.numbers is read by clamp and scale; sum's total by nobody.
  /// (scale names the stage alone: its first output.)
  static func spec() throws -> PipelineSpec {
    let dir = TemporaryDirectory()
    return try PipelineLoader(registry: ToyStages.registry).load(dir.write("toy.json", toyPipeline()))
  }

  static let numbers = Table([Column("n", [1, 2, 3] as [Int64]), Column("label", strings: ["a", "b", "c"])], metadata: ["m": "1"])
  static let id = ArtifactID(Digest.of("numbers"))

  @Test func anOutputStaysUntilItsLastReaderFinishes() throws {
    let spec = try Self.spec(), stage = { (name: String) in spec.stage(name)! }
    let shelf = TableShelf(spec: spec, stages: spec.stages, budget: 1 << 20)
    shelf.put(Self.numbers, as: Self.id, output: "source.numbers")
    #expect(shelf.bytes == 24 + 3 + 32)
    shelf.finished(stage("source"))
    shelf.finished(stage("clamp"))
    #expect(shelf.table(Self.id) != nil, "scale has not read it yet")
    shelf.finished(stage("scale"))
    #expect(shelf.table(Self.id) == nil && shelf.bytes == 0)
  }

  @Test func unreadAndOversizedOutputsAreLeftToTheStore() throws {
    let spec = try Self.spec()
    let shelf = TableShelf(spec: spec, stages: spec.stages, budget: 1 << 20)
    shelf.put(Self.numbers, as: Self.id, output: "sum.total")
    #expect(shelf.table(Self.id) == nil, "no stage reads sum.total")
    let small = TableShelf(spec: spec, stages: spec.stages, budget: 10)
    small.put(Self.numbers, as: Self.id, output: "source.numbers")
    #expect(small.table(Self.id) == nil && small.bytes == 0)
  }

  /// A stage takes a shelved input as the object would give it (columns in the order asked, the
  /// same metadata), without reading the object: here it is gone from the store.
  @Test func aStageReadsAShelvedInputWithoutItsObject() throws {
    let spec = try Self.spec(), dir = TemporaryDirectory(), store = try Store(root: dir.path + "/store")
    let shelf = TableShelf(spec: spec, stages: spec.stages, budget: 1 << 20)
    let context = { (stage: String, inputs: [String: ArtifactID], outputs: [String]) in
      StageContext(
        stage: stage, store: store, inputIDs: inputs, inputFiles: [:],
        provenance: Provenance(stage: stage, kind: "toy", version: 1, params: .object([:]), inputs: [:]),
        declaredOutputs: outputs, cancellation: CancellationFlag(), shelf: shelf, emit: { _ in })
    }
    let source = context("source", [:], ["numbers"])
    try source.write("numbers", Self.numbers)
    let id = try #require(source.outputs["numbers"]?.id)
    let fromObject = try store.reader(id).table(columns: ["label", "n"])
    FileSystem.remove(store.objectPath(id))
    let read = try context("clamp", ["numbers": id], ["clamped"]).table("numbers", columns: ["label", "n"])
    #expect(read.columns.map(\.name) == fromObject.columns.map(\.name) && read.metadata == fromObject.metadata)
    #expect(zip(read.columns, fromObject.columns).allSatisfy { Array($0.values.bytes) == Array($1.values.bytes) })
    #expect(throws: MissingColumnError.self) { try context("clamp", ["numbers": id], ["clamped"]).table("numbers", columns: ["x"]) }
  }
}
