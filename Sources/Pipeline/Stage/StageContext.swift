import Foundation
import Synchronization

/// Set once to ask running stages to stop; they poll it between chunks of work.
public final class CancellationFlag: Sendable {
  private let flag = Atomic<Bool>(false)
  public init() {}
  public func cancel() { flag.store(true, ordering: .relaxed) }
  public var isCancelled: Bool { flag.load(ordering: .relaxed) }
}

/// The run was interrupted (Ctrl-C) while a stage was working.
public struct CancelledError: Error, Sendable, CustomStringConvertible {
  public init() {}
  public var description: String { "interrupted" }
}

/// A stage's window on the run: its declared inputs, its outputs, progress, figures and
/// cancellation. A stage reads nothing else.
public final class StageContext: Sendable {
  public let stage: String
  let store: Store
  let inputIDs: [String: ArtifactID]
  let inputFiles: [String: String]
  let provenance: Provenance
  let declaredOutputs: [String]
  let cancellation: CancellationFlag
  /// The run's tables in memory, which inputs are taken from when there and outputs left on.
  let shelf: TableShelf?
  private let emit: @Sendable (RunEvent) -> Void
  private let written = Mutex<[String: Manifest]>([:])
  private let recordedFigures = Mutex<[String: Double]>([:])
  private let damaged = Mutex<[ArtifactID]>([])
  private let lastProgress = Mutex<Double>(0)
  private let scratch = Mutex<[String]>([])
  private let logged = Mutex<[String]>([])

  init(
    stage: String, store: Store, inputIDs: [String: ArtifactID], inputFiles: [String: String],
    provenance: Provenance, declaredOutputs: [String], cancellation: CancellationFlag, shelf: TableShelf? = nil,
    emit: @escaping @Sendable (RunEvent) -> Void
  ) {
    self.shelf = shelf
    self.stage = stage
    self.store = store
    self.inputIDs = inputIDs
    self.inputFiles = inputFiles
    self.provenance = provenance
    self.declaredOutputs = declaredOutputs
    self.cancellation = cancellation
    self.emit = emit
  }

  // MARK: Inputs

  /// Whether an (optional) input slot is connected.
  public func hasInput(_ slot: String) -> Bool { inputIDs[slot] != nil || inputFiles[slot] != nil }

  /// The manifest of an artifact input: schema, rows, metadata, without reading data.
  public func manifest(_ slot: String) throws -> Manifest { try reader(slot).manifest }

  /// Reads an artifact input, all columns or the named ones. Naming a column that the input holds
  /// only as nulls (`Table.absentColumns`) is an error: this stage needs what the source lacked.
  public func table(_ slot: String, columns: [String]? = nil) throws -> Table {
    if let id = inputIDs[slot], let shelved = shelf?.table(id) {
      try checkPresent(columns, in: shelved.absentColumns, slot)
      return try shelved.selecting(columns)
    }
    let reader = try reader(slot)
    try checkPresent(columns, in: Table([], metadata: reader.manifest.metadata).absentColumns, slot)
    return try guarding(slot) { try reader.table(columns: columns) }
  }

  private func checkPresent(_ columns: [String]?, in absent: [String], _ slot: String) throws {
    if let columns, let missing = columns.first(where: absent.contains) {
      throw StageInputError(
        stage: stage, slot: slot, detail: "has no column \(missing): its source file lacked it (written as nulls), and this stage needs it")
    }
  }

  /// Reads one column of an artifact input.
  public func column(_ slot: String, _ name: String) throws -> Column {
    try table(slot, columns: [name]).columns[0]
  }

  /// The path of a file input.
  public func file(_ slot: String) throws -> String {
    guard let path = inputFiles[slot] else { throw StageInputError(stage: stage, slot: slot, detail: "is not a file input") }
    return path
  }

  /// The bytes of a file-like input, whether it is a file on disk (mapped, not copied) or a file
  /// artifact of another stage (decompressed). `name` is what error messages call it.
  public func bytes(_ slot: String) throws -> InputBytes {
    if let path = inputFiles[slot] {
      let mapped = try MappedFile(path: path)
      return InputBytes(name: path, bytes: mapped.bytes, owner: mapped)
    }
    let table = try table(slot, columns: ["bytes"])
    guard table.kind == .file else {
      throw StageInputError(stage: stage, slot: slot, detail: "is a table, not a file")
    }
    let column = table.columns[0]
    return InputBytes(name: table.metadata["filename"] ?? slot, bytes: column.values.bytes, owner: column.values)
  }

  /// Writes a file artifact input's bytes to `path` (atomically), from memory when the artifact is
  /// shelved, else streamed from the store a few chunks at a time.
  public func writeFile(_ slot: String, to path: String) throws {
    if let id = inputIDs[slot], let shelved = shelf?.table(id) {
      return try FileSystem.writeAtomically(try shelved.column("bytes").values.bytes, to: path)
    }
    let reader = try reader(slot)
    try guarding(slot) { try reader.writeFile(to: path) }
  }

  private func reader(_ slot: String) throws -> ArtifactReader {
    guard let id = inputIDs[slot] else {
      throw StageInputError(stage: stage, slot: slot, detail: inputFiles[slot] == nil ? "is not connected" : "is a file, not an artifact")
    }
    return try guarding(slot) { try store.reader(id) }
  }

  /// Notes an input object found damaged or missing, so the runner can recompute it.
  private func guarding<T>(_ slot: String, _ body: () throws -> T) throws -> T {
    do { return try body() } catch let error as CorruptObjectError {
      if let id = inputIDs[slot] { damaged.withLock { $0.append(id) } }
      throw error
    } catch let error as MissingObjectError {
      damaged.withLock { $0.append(error.id) }
      throw error
    }
  }

  var damagedInputs: [ArtifactID] { damaged.withLock { $0 } }

  // MARK: Outputs

  /// Writes a whole table as the output `name`.
  public func write(_ name: String, _ table: Table) throws {
    let writer = try outputWriter(name)
    try writer.append(table.columns)
    try writer.finish(kind: table.kind, metadata: table.metadata)
    shelve(table, as: name)
  }

  /// Leaves a table just written on the shelf for the stages that read it next.
  private func shelve(_ table: Table, as name: String) {
    if let shelf, let id = outputs[name]?.id { shelf.put(table, as: id, output: TableShelf.key(stage, name)) }
  }

  /// Writes the first `rows` rows of the artifact input `slot` as the output `name`: the same
  /// artifact as writing `table(slot).rows(0..<rows)`, but each fixed-width column's chunks that
  /// lie wholly inside those rows are copied compressed instead of compressed again.
  public func writeLeadingRows(_ name: String, of slot: String, rows: Int) throws {
    let source = try reader(slot)
    let output = try outputWriter(name)
    for entry in source.manifest.columns {
      if entry.columnType?.isRagged == false {
        try guarding(slot) { try output.appendLeadingRows(of: entry, rows: rows, from: source) }
      } else {
        try output.append(try guarding(slot) { try source.column(entry.name) }.rows(0..<rows))
      }
    }
    try output.finish(kind: source.manifest.kind, metadata: source.manifest.metadata)
    if let id = inputIDs[slot], let shelved = shelf?.table(id) { shelve(shelved.rows(0..<rows), as: name) }
  }

  /// A streaming writer for the output `name`, for outputs written column by column.
  public func outputWriter(_ name: String) throws -> OutputWriter {
    guard declaredOutputs.contains(name) else {
      throw StageInputError(stage: stage, slot: name, detail: "is not a declared output (\(declaredOutputs.joined(separator: ", ")))")
    }
    return OutputWriter(name: name, writer: try store.makeWriter(), context: self)
  }

  /// Writes an output from a whole artifact file made outside hmpipe (a command stage's table),
  /// after checking every chunk's checksum and SHA-256 and its offsets: its chunks are copied as
  /// they are, with this stage's provenance.
  func write(_ name: String, verifiedCopyOf path: String) throws {
    let source = try ArtifactReader(path: path)
    try source.verify(hashes: true)
    let writer = try store.makeWriter()
    do { try writer.appendCopies(of: source) } catch {
      writer.abandon()
      throw error
    }
    try committed(name, writer, kind: source.manifest.kind, metadata: source.manifest.metadata)
  }

  fileprivate func committed(_ name: String, _ writer: ArtifactWriter, kind: Table.Kind, metadata: [String: String]) throws {
    let manifest = try store.commit(writer, kind: kind, metadata: metadata, provenance: provenance)
    written.withLock { $0[name] = manifest }
  }

  var outputs: [String: Manifest] { written.withLock { $0 } }

  /// Every input's path: an artifact's store object, a file input's file (for a command stage's
  /// program, which reads them itself).
  func inputPaths() throws -> [String: String] {
    var paths = inputFiles
    for (slot, id) in inputIDs { paths[slot] = try guarding(slot) { try store.localPath(of: id) } }
    return paths
  }

  /// Whether `slot` is connected to an artifact (not a file).
  func hasArtifactInput(_ slot: String) -> Bool { inputIDs[slot] != nil }

  /// Moves a damaged artifact input out of the store, so its producer runs again next time.
  func quarantineInput(_ slot: String) {
    if let id = inputIDs[slot] { store.quarantine(id) }
  }

  /// A new empty folder inside the store for the stage's temporary files; removed when the stage
  /// ends, whatever happens (and by the next run if the process dies).
  public func scratchDirectory() throws -> String {
    let path = try store.makeScratchDirectory("scratch-\(stage)")
    scratch.withLock { $0.append(path) }
    return path
  }

  func removeScratchDirectories() {
    for path in scratch.withLock({ $0 }) { FileSystem.removeTree(path) }
  }

  // MARK: Progress, figures, cancellation

  /// Reports how far the stage is (0…1); cheap to call often.
  public func progress(_ fraction: Double, _ detail: String = "") {
    let now = Date().timeIntervalSinceReferenceDate
    let due = lastProgress.withLock { last in
      if now - last < 0.1 && fraction < 1 { return false }
      last = now
      return true
    }
    if due { emit(.stageProgress(stage: stage, fraction: min(max(fraction, 0), 1), detail: detail)) }
  }

  /// A line for the user, shown beside the stage's progress.
  public func log(_ message: String) {
    logged.withLock { lines in
      lines.append(contentsOf: message.split(separator: "\n", omittingEmptySubsequences: false).map(String.init))
      if lines.count > Self.keptLogLines { lines.removeFirst(lines.count - Self.keptLogLines) }
    }
    emit(.stageMessage(stage: stage, message: message))
  }

  /// How many of a stage's last log lines its run record keeps.
  static let keptLogLines = 200

  /// The stage's last log lines (a command's stdout and stderr among them), for its run record.
  var logLines: [String] { logged.withLock { $0 } }

  /// A line for the user about something that went wrong but does not stop the stage.
  public func warn(_ message: String) { log("warning: " + message) }

  /// Records a named figure (rows skipped, loss, recall) in the run record and cache entry. A NaN
  /// or infinite figure is kept as null, with a warning.
  public func record(_ figure: String, _ value: Double) {
    if !value.isFinite { warn("figure \(figure) is \(value): recorded as null") }
    recordedFigures.withLock { $0[figure] = value }
  }

  var figures: [String: Double] { recordedFigures.withLock { $0 } }

  public var isCancelled: Bool { cancellation.isCancelled }

  /// Throws `CancelledError` once the run has been interrupted.
  public func checkCancellation() throws {
    if cancellation.isCancelled { throw CancelledError() }
  }
}

/// The bytes of a file-like input and what keeps them alive; valid while this value lives.
public struct InputBytes: @unchecked Sendable {
  /// The file's path or name, for messages.
  public let name: String
  public let bytes: UnsafeRawBufferPointer
  let owner: AnyObject

  /// Says a range of the bytes is done with, so a mapped file's pages can leave memory.
  public func release(_ range: Range<Int>) { (owner as? MappedFile)?.release(range) }

  /// Bytes that `owner` keeps alive (for tests and tools that hold their own buffers).
  public init(name: String, bytes: UnsafeRawBufferPointer, owner: AnyObject) {
    self.name = name
    self.bytes = bytes
    self.owner = owner
  }
}

/// Writes one output of a stage, column by column.
public final class OutputWriter {
  public let name: String
  private let writer: ArtifactWriter
  private let context: StageContext

  fileprivate init(name: String, writer: ArtifactWriter, context: StageContext) {
    self.name = name
    self.writer = writer
    self.context = context
  }

  public func append(_ column: Column) throws {
    try abandoningOnError { try writer.append(column) }
  }

  /// Appends columns in order, compressing their chunks in parallel across columns.
  public func append(_ columns: [Column]) throws {
    try abandoningOnError { try writer.append(columns) }
  }

  /// Appends the first `rows` rows of a fixed-width column of `source` (`ArtifactWriter.appendLeadingRows`).
  public func appendLeadingRows(of entry: ColumnManifest, rows: Int, from source: ArtifactReader) throws {
    try abandoningOnError { try writer.appendLeadingRows(of: entry, rows: rows, from: source) }
  }

  private func abandoningOnError(_ body: () throws -> Void) throws {
    do { try body() } catch {
      writer.abandon()
      throw error
    }
  }

  public func finish(kind: Table.Kind = .table, metadata: [String: String] = [:]) throws {
    try context.committed(name, writer, kind: kind, metadata: metadata)
  }
}

/// A stage used an input or output it did not declare, or in a way it is not.
public struct StageInputError: Error, Sendable, CustomStringConvertible {
  public var stage: String
  public var slot: String
  public var detail: String
  public init(stage: String, slot: String, detail: String) {
    self.stage = stage
    self.slot = slot
    self.detail = detail
  }
  public var description: String { "stage '\(stage)': '\(slot)' \(detail)" }
}
