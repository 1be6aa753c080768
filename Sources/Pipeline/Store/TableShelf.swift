import Foundation
import Synchronization

/// Tables this run's stages wrote, kept in memory until every stage of the run that reads them has
/// finished, so those stages take them as they are instead of reading and decompressing the object
/// again (a training table or a candidate list is read by three or four stages). Content ids make a
/// shelved table and its stored object the same bytes. Entries are kept per producer output
/// ("split.train") and found by artifact id; at most `budget` bytes are held, and a table that does
/// not fit is left to the store.
final class TableShelf: Sendable {
  private struct Shelved {
    var id: ArtifactID
    var table: Table
    var bytes: Int
  }

  private struct State {
    /// Per producer output, how many of this run's stages that read it have not finished.
    var pending: [String: Int]
    var shelved: [String: Shelved] = [:]
    var bytes = 0
  }

  private let state: Mutex<State>
  private let spec: PipelineSpec
  let budget: Int

  /// Holds up to a sixth of the machine's memory, at most 2 GiB; `HMPIPE_SHELF_BYTES` overrides
  /// it (0 turns the shelf off).
  static var defaultBudget: Int {
    if let text = ProcessInfo.processInfo.environment["HMPIPE_SHELF_BYTES"], let bytes = Int(text), bytes >= 0 { return bytes }
    return min(Int(ProcessInfo.processInfo.physicalMemory / 6), 2 << 30)
  }

  /// `stages`: the stages of `spec` this run may run; an output is kept for as many of them as
  /// read it.
  init(spec: PipelineSpec, stages: [StageSpec], budget: Int = defaultBudget) {
    self.spec = spec
    self.budget = budget
    var pending: [String: Int] = [:]
    for stage in stages { for key in Self.outputsRead(by: stage, in: spec) { pending[key, default: 0] += 1 } }
    state = Mutex(State(pending: pending))
  }

  static func key(_ stage: String, _ output: String) -> String { stage + "." + output }

  /// The producer outputs `stage` reads, as keys.
  private static func outputsRead(by stage: StageSpec, in spec: PipelineSpec) -> [String] {
    stage.inputs.values.compactMap { reference in
      guard case .output(let producer, let output) = reference else { return nil }
      return key(producer, spec.outputName(of: producer, output))
    }
  }

  /// Keeps `table`, just written as `id` by output `key`, if a stage of this run still reads it
  /// and it fits.
  func put(_ table: Table, as id: ArtifactID, output key: String) {
    let bytes = table.columns.reduce(0) { $0 + $1.values.count + ($1.offsets?.count ?? 0) }
    state.withLock { s in
      guard s.pending[key, default: 0] > 0, s.shelved[key] == nil, s.bytes + bytes <= budget else { return }
      s.shelved[key] = Shelved(id: id, table: table, bytes: bytes)
      s.bytes += bytes
    }
  }

  /// The shelved table with content `id`, if any.
  func table(_ id: ArtifactID) -> Table? {
    state.withLock { s in s.shelved.values.first { $0.id == id }?.table }
  }

  /// Notes that `stage` is done (ran, was cached, failed or was skipped): the outputs it read lose a
  /// reader, and leave the shelf with their last.
  func finished(_ stage: StageSpec) {
    let keys = Self.outputsRead(by: stage, in: spec)
    state.withLock { s in
      for key in keys {
        s.pending[key, default: 1] -= 1
        if s.pending[key, default: 0] <= 0, let gone = s.shelved.removeValue(forKey: key) { s.bytes -= gone.bytes }
      }
    }
  }

  /// Bytes held now.
  var bytes: Int { state.withLock { $0.bytes } }
}
