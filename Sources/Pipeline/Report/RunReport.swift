import Foundation

/// One run of a pipeline as a self-contained HTML page (inline CSS and SVG, no script, nothing
/// fetched): the result and its verdict, the stages' charts, the DAG, the timeline, memory and
/// sizes, every stage's record, the trend of key figures over recent runs, and the run's facts.
public struct RunReport {
  public let spec: PipelineSpec
  public var record: RunRecord
  /// Runs of the pipeline, newest first (the reported one among them), for the trend.
  public var history: [RunRecord]
  /// How many runs the trend shows at most.
  public var trendRuns = 30

  /// The pipeline's stage kinds by stage name (for their headlines, charts and key figures).
  private let definitions: [String: StageDefinition]

  public init(spec: PipelineSpec, record: RunRecord, history: [RunRecord]) {
    self.spec = spec
    self.record = record
    self.history = history
    definitions = Dictionary(spec.stages.map { ($0.name, $0.definition) }) { a, _ in a }
  }

  public var html: String {
    let sections = [summary, results, dag, timeline, resources, stageTable, trend, facts].filter { !$0.isEmpty }
    return """
      <!DOCTYPE html>
      <html lang="en"><head><meta charset="utf-8">
      <meta name="viewport" content="width=device-width, initial-scale=1">
      <title>\(SVG.escape("hmpipe report: \(spec.name)"))</title>
      <style>\(Self.css)</style></head>
      <body><main>
      \(sections.joined(separator: "\n"))
      <footer>Made by hmpipe \(SVG.escape(record.environment["hmpipe_version"] ?? "")) from the run record in \(SVG.escape(spec.storePath)).</footer>
      </main></body></html>

      """
  }

  static let css = """
    body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2733;background:#f6f7f9}
    main{max-width:980px;margin:0 auto;padding:12px 14px 40px}
    h1{font-size:1.45em;margin:.4em 0 .1em}h2{font-size:1.15em;margin:1.6em 0 .5em;border-bottom:1px solid #dde1e6;padding-bottom:.2em}
    section,figure{background:#fff;border:1px solid #e1e4e8;border-radius:8px;padding:10px 12px;margin:12px 0}
    figure figcaption{font-weight:600;margin-bottom:6px}
    svg.chart{width:100%;height:auto;display:block;font:11px system-ui,sans-serif;fill:#1d2733}
    svg text.inside,svg text.node{fill:#fff;font-weight:600}svg text.value{fill:#46505c}
    .scroll{overflow-x:auto}table{border-collapse:collapse;font-size:.9em;margin-top:6px}
    td,th{padding:3px 8px;border-bottom:1px solid #eceff2;text-align:left;white-space:nowrap}td.n,th.n{text-align:right}
    .verdict{font-size:1.1em;font-weight:600;padding:10px 12px;border-radius:8px;background:#eaf2ea;border:1px solid #bfd9bf}
    .verdict.bad{background:#fbecec;border-color:#e6c2c2}.note{color:#5b6673;font-size:.9em;margin:6px 0 0}
    .status-ran{color:#3366cc}.status-failed{color:#c44e52;font-weight:600}.status-skipped{color:#b07d10}.status-cached{color:#6b7785}
    .legend span{display:inline-block;margin-right:12px}.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}
    footer{color:#7a8591;font-size:.85em;margin-top:24px}a{color:#3366cc}
    """

  // MARK: Sections

  private var summary: String {
    let counts = Dictionary(grouping: record.stages, by: \.status).mapValues(\.count)
    let parts = [RunRecord.StageRecord.Status.ran, .cached, .failed, .skipped].compactMap { s in
      counts[s].map { "\($0) \(s == .skipped ? "not run" : s.rawValue)" }
    }
    var out = "<header><h1>\(SVG.escape(spec.name))</h1><p class=\"note\">\(SVG.escape(spec.path)) · run of "
    out += "\(SVG.escape(Self.when(record.startedAt))) · \(Format.seconds(record.seconds)) wall · \(parts.joined(separator: ", "))</p>"
    let links = [
      ("results", "results"), ("pipeline", "DAG"), ("timeline", "timeline"), ("resources", "memory and sizes"), ("stages", "stages"),
      ("trend", "trend"), ("run", "the run"),
    ]
    out += "<nav class=\"note\">" + links.map { "<a href=\"#\($0.0)\">\($0.1)</a>" }.joined(separator: " · ") + "</nav></header>"
    for stage in record.stages {
      guard stage.status == .ran || stage.status == .cached, let text = definitions[stage.name]?.headline(stage.figures) else { continue }
      let bad = text.contains("does not beat") ? " bad" : ""
      out += "<p class=\"verdict\(bad)\" id=\"verdict\">\(SVG.escape(stage.name)): \(SVG.escape(text))</p>"
    }
    let failed = record.stages.filter { $0.status == .failed }
    for stage in failed {
      out += "<p class=\"verdict bad\">\(SVG.escape(stage.name)) failed: \(SVG.escape(stage.error ?? "unknown error"))</p>"
    }
    return out
  }

  private var results: String {
    // The stages that give a verdict come first: the result, then how it came about.
    let ordered =
      record.stages.filter { definitions[$0.name]?.headline($0.figures) != nil }
      + record.stages.filter { definitions[$0.name]?.headline($0.figures) == nil }
    let figures = ordered.flatMap { stage in
      (definitions[stage.name]?.charts(stage.figures) ?? []).map { (stage.name, $0) }
    }
    guard !figures.isEmpty else { return "" }
    return "<h2 id=\"results\">Results</h2>" + figures.map { Self.figure($0.1, stage: $0.0) }.joined()
  }

  private var dag: String {
    let index = Dictionary(uniqueKeysWithValues: spec.stages.enumerated().map { ($1.name, $0) })
    let byName = Dictionary(record.stages.map { ($0.name, $0) }) { a, _ in a }
    let nodes = spec.stages.map { stage -> SVG.Node in
      let r = byName[stage.name]
      let detail =
        "\(stage.kind), "
        + (r.map { "\($0.status.rawValue)" + ($0.status == .ran ? " in \(Format.seconds($0.seconds))" : "") } ?? "not in this run")
      return SVG.Node(name: stage.name, detail: detail, status: r?.status.rawValue ?? "")
    }
    var edges: [(from: Int, to: Int)] = []
    for (i, stage) in spec.stages.enumerated() {
      for producer in Set(stage.upstream).sorted() { if let p = index[producer] { edges.append((p, i)) } }
    }
    let legend = ["ran", "cached", "failed", "skipped"].map {
      "<span><i style=\"background:\(SVG.statusColours[$0]!)\"></i>\($0 == "skipped" ? "not run" : $0)</span>"
    }.joined()
    return "<h2 id=\"pipeline\">Pipeline</h2><figure><figcaption>\(spec.stages.count) stages, inputs flowing left to right</figcaption>"
      + "<div class=\"scroll\">\(SVG.dag(nodes, edges: edges))</div><p class=\"note legend\">\(legend)</p></figure>"
  }

  private var timeline: String {
    let spans = record.stages.compactMap { s -> SVG.Span? in
      guard s.status == .ran || s.status == .failed, let started = s.startedAt else { return nil }
      return SVG.Span(
        name: s.name, start: max(started.timeIntervalSince(record.startedAt), 0), seconds: s.seconds, status: s.status.rawValue)
    }
    let cached = record.stages.filter { $0.status == .cached }.count
    guard !spans.isEmpty else {
      return "<h2 id=\"timeline\">Timeline</h2><section><p class=\"note\">Nothing ran in this run"
        + (cached > 0 ? " (\(cached) stage\(cached == 1 ? "" : "s") came from the cache)" : "") + ".</p></section>"
    }
    return "<h2 id=\"timeline\">Timeline</h2><figure><figcaption>When each stage ran, in parallel lanes</figcaption>"
      + SVG.timeline(spans, total: record.seconds)
      + "<p class=\"note\">\(spans.count) stage\(spans.count == 1 ? "" : "s") ran; \(cached) came from the cache. Hover a bar for its times.</p></figure>"
  }

  private var resources: String {
    let ran = record.stages.filter { $0.status == .ran }
    let stored = record.stages.filter { $0.storedBytes > 0 }
    var out = ""
    if !ran.isEmpty {
      out += Self.figure(
        FigureChart(
          title: "Seconds each stage took", series: ["seconds"],
          groups: ran.map { .init($0.name, [$0.seconds]) }, unit: .seconds), stage: nil, table: false)
      out += Self.figure(
        FigureChart(
          title: "Peak resident memory while each stage ran", series: ["peak"],
          groups: ran.map { .init($0.name, [Double($0.peakMemoryBytes)]) }, unit: .bytes,
          note: "The whole process's peak: stages that ran side by side share it."), stage: nil, table: false)
    }
    if !stored.isEmpty {
      out += Self.figure(
        FigureChart(
          title: "Artifact sizes", series: ["stored (zstd)", "raw"],
          groups: stored.map { .init($0.name, [Double($0.storedBytes), Double($0.rawBytes)]) }, unit: .bytes), stage: nil, table: false)
    }
    return out.isEmpty ? "" : "<h2 id=\"resources\">Time, memory and sizes</h2>" + out
  }

  private var stageTable: String {
    let kinds = Dictionary(spec.stages.map { ($0.name, $0.kind) }) { a, _ in a }
    var rows = ""
    for s in record.stages {
      rows += "<tr><td>\(SVG.escape(s.name))</td><td>\(SVG.escape(kinds[s.name] ?? "?"))</td>"
      rows += "<td class=\"status-\(s.status.rawValue)\">\(s.status == .skipped ? "not run" : s.status.rawValue)</td>"
      rows += "<td class=\"n\">\(s.status == .cached ? "–" : Format.seconds(s.seconds))</td>"
      rows += "<td class=\"n\">\(s.status == .ran ? Format.bytes(s.peakMemoryBytes) : "–")</td>"
      rows += "<td class=\"n\">\(Format.count(s.rows))</td><td class=\"n\">\(Format.bytes(s.storedBytes))</td>"
      rows += "<td>\(SVG.escape(s.error ?? s.reason))</td></tr>"
    }
    return "<h2 id=\"stages\">Stages</h2><section class=\"scroll\"><table><thead><tr><th>stage</th><th>kind</th><th>status</th>"
      + "<th class=\"n\">seconds</th><th class=\"n\">peak</th><th class=\"n\">rows</th><th class=\"n\">stored</th><th>why</th></tr></thead>"
      + "<tbody>\(rows)</tbody></table></section>"
  }

  private var trend: String {
    let runs = Array(history.prefix(trendRuns).reversed())
    guard runs.count > 1 else {
      return "<h2 id=\"trend\">Trend</h2><section><p class=\"note\">One run recorded so far: the trend starts with the next.</p></section>"
    }
    let labels = runs.indices.map { "#\(runs.count - $0)" }
    var out = "<h2 id=\"trend\">Trend over the last \(runs.count) runs</h2>"
    var seriesOf: [String: [(name: String, values: [Double?])]] = [:], order: [String] = []
    for stage in spec.stages {
      let perRun = runs.map { run in run.stages.first { $0.name == stage.name && ($0.status == .ran || $0.status == .cached) } }
      let labelled = perRun.map { $0.map { stage.definition.keyFigures($0.figures) } ?? [] }
      let names = labelled.flatMap { $0.map(\.label) }.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
      guard !names.isEmpty else { continue }
      order.append(stage.name)
      seriesOf[stage.name] = names.map { name in (name, labelled.map { run in run.first { $0.label == name }?.value }) }
    }
    for group in order {
      out +=
        "<figure><figcaption>\(SVG.escape(group)): key figures per run (#1 is the newest)</figcaption>"
        + SVG.trend(seriesOf[group]!, runLabels: labels, unit: .decimal(5)) + "</figure>"
    }
    out +=
      "<figure><figcaption>Wall seconds per run (#1 is the newest)</figcaption>"
      + SVG.trend([("wall seconds", runs.map { $0.seconds })], runLabels: labels, unit: .seconds) + "</figure>"
    return out
  }

  private var facts: String {
    var rows: [(String, String)] = [("command", record.command), ("started", Self.when(record.startedAt))]
    let variables = (record.variables ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
    rows.append(("--set", variables.isEmpty ? "(none: the file's values)" : variables.joined(separator: " ")))
    if let hash = record.pipelineHash { rows.append(("pipeline file SHA-256", hash)) }
    if let commit = record.gitCommit { rows.append(("git commit", commit)) }
    for (key, value) in record.environment.sorted(by: { $0.key < $1.key }) { rows.append((key, value)) }
    let body = rows.map { "<tr><th>\(SVG.escape($0.0))</th><td>\(SVG.escape($0.1))</td></tr>" }.joined()
    return "<h2 id=\"run\">The run</h2><section class=\"scroll\"><table>\(body)</table></section>"
  }

  // MARK: Pieces

  /// A chart with its title, its numbers as a table (unless the stage table below has them) and its
  /// note.
  static func figure(_ chart: FigureChart, stage: String?, table: Bool = true) -> String {
    let from = stage.map { " <span class=\"note\">(\(SVG.escape($0)))</span>" } ?? ""
    var out = "<figure><figcaption>\(SVG.escape(chart.title))\(from)</figcaption>\(SVG.barChart(chart))"
    guard table else { return out + (chart.note.isEmpty ? "" : "<p class=\"note\">\(SVG.escape(chart.note))</p>") + "</figure>" }
    out += "<div class=\"scroll\"><table><thead><tr><th></th>"
    out += chart.series.map { "<th class=\"n\">\(SVG.escape($0))</th>" }.joined() + "</tr></thead><tbody>"
    for group in chart.groups {
      out += "<tr><td>\(SVG.escape(group.label))</td>" + group.values.map { "<td class=\"n\">\(chart.text($0))</td>" }.joined() + "</tr>"
    }
    out += "</tbody></table></div>"
    if !chart.note.isEmpty { out += "<p class=\"note\">\(SVG.escape(chart.note))</p>" }
    return out + "</figure>"
  }

  static func when(_ date: Date) -> String {
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
    return formatter.string(from: date)
  }
}
