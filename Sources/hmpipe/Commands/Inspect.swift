import ArgumentParser
import Pipeline
import Stages

/// `hmpipe inspect`: what an artifact holds and where it came from.
struct Inspect: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Show an artifact: schema, rows, sizes, provenance, column statistics, first rows.",
    discussion: "hmpipe inspect PIPELINE STAGE[.OUTPUT]   or   hmpipe inspect ID-PREFIX [--store DIR]")

  @Argument(help: "PIPELINE STAGE[.OUTPUT], or an artifact id prefix (at least 4 hex digits).")
  var target: [String]

  @Option(help: "The store folder (default: the pipeline's; artifacts/ for an id).")
  var store: String?

  @Option(help: "How many rows to show.")
  var rows = 10

  @Flag(help: "Show the stored values: customer and article indexes, day numbers and dictionary codes, not ids, dates and names.")
  var raw = false

  func validate() throws {
    if target.isEmpty || target.count > 2 { throw ValidationError("give PIPELINE STAGE[.OUTPUT] or an artifact id prefix") }
  }

  func run() async throws {
    let (store, id, figures) = try resolve()
    let reader = try store.reader(id)
    let table = try reader.table()
    var readable = ReadableTable(for: id, in: store)
    let shown = raw ? table : readable.decode(table)
    print(
      ArtifactReport(reader: reader, table: table, shown: shown, decoded: readable.decodedColumns, figures: figures, rows: rows).text)
  }

  private func resolve() throws -> (Store, ArtifactID, [String: Double]) {
    if target.count == 2 {
      var spec = try PipelineLoader(registry: HMStages.registry).load(target[0])
      if let store { spec.storePath = store }
      let opened = try Store(root: spec.storePath)
      let id = try ArtifactLocator(spec: spec, store: opened).locate(target[1])
      let stage = String(target[1].split(separator: ".")[0])
      let figures = opened.head(pipeline: spec.identity, stage: stage)?.figures ?? [:]
      return (opened, id, figures)
    }
    let opened = try StoreOptions.open(store ?? "artifacts")
    let matches = opened.objects(withPrefix: target[0])
    guard matches.count == 1 else {
      throw ValidationError(
        matches.isEmpty
          ? "no artifact id starts with '\(target[0])' in \(opened.root) (give at least 4 hex digits)"
          : "'\(target[0])' matches \(matches.count) artifacts: \(matches.map(\.short).joined(separator: ", "))")
    }
    return (opened, matches[0], [:])
  }
}

/// The text `inspect` prints for one artifact.
struct ArtifactReport {
  var reader: ArtifactReader
  var table: Table
  /// The table as its first rows are shown (ids, dates and names decoded).
  var shown: Table
  /// Stored columns shown decoded: their stored minimum and maximum are internal numbers.
  var decoded: Set<String> = []
  var figures: [String: Double]
  var rows: Int

  var text: String {
    let m = reader.manifest
    var out = ["artifact \(m.id)", "kind     \(m.kind.rawValue), \(Format.count(m.rows)) rows, \(m.columns.count) columns"]
    let ratio = m.compressedBytes > 0 ? Double(m.rawBytes) / Double(m.compressedBytes) : 0
    out.append("size     \(Format.bytes(m.compressedBytes)) stored, \(Format.bytes(m.rawBytes)) raw (\(String(format: "%.2f", ratio))×)")
    if !m.metadata.isEmpty {
      out.append("metadata " + m.metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
    }
    if let p = m.provenance {
      out.append("made by  stage \(p.stage) (\(p.kind)@\(p.version))")
      out.append("params   \(p.params.canonical)")
      for (slot, id) in p.inputs.sorted(by: { $0.key < $1.key }) { out.append("input    \(slot) = \(id)") }
    }
    if !figures.isEmpty {
      out.append("")
      out.append("figures")
      out.append(Format.table(figures.sorted { $0.key < $1.key }.map { ["  " + $0.key, Format.number($0.value)] }))
    }
    out.append("")
    var rowsOut = [["COLUMN", "TYPE", "STORED", "RAW", "MIN", "MAX", "NULLS"]]
    for (entry, column) in zip(m.columns, table.columns) {
      let stats = ColumnStatistics(column)
      let stored = entry.buffers.reduce(0) { $0 + $1.compressedBytes }
      let raw = entry.buffers.reduce(0) { $0 + $1.rawBytes }
      let lengthNote = column.type.isRagged ? " (len)" : ""
      let isInternal = decoded.contains(entry.name) && !column.type.isRagged
      rowsOut.append([
        entry.name, entry.type, Format.bytes(stored), Format.bytes(raw),
        isInternal ? "-" : Format.number(stats.min) + lengthNote, isInternal ? "-" : Format.number(stats.max) + lengthNote,
        String(stats.nulls),
      ])
    }
    out.append(Format.table(rowsOut))
    if shown.kind == .table && shown.rowCount > 0 && rows > 0 {
      out.append("")
      out.append(
        "first \(min(rows, shown.rowCount)) rows"
          + (decoded.isEmpty ? "" : " (ids, dates and names decoded; --raw shows the stored values)"))
      let head = (0..<min(rows, shown.rowCount)).map { r in
        shown.columns.map {
          String(CellFormatter.text($0, row: r, maxListItems: 6, width: CellFormatter.width(of: $0.name, in: shown)).prefix(40))
        }
      }
      out.append(Format.table([shown.columns.map(\.name)] + head))
    }
    return out.joined(separator: "\n")
  }
}
