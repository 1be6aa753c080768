import Foundation

/// The report's drawings as inline SVG (no script, no network): bar charts of figures, the
/// stages' timeline, the pipeline's DAG and the trend of key figures over runs. Each drawing has a
/// `viewBox`, so it scales to the page's width (a phone's too).
enum SVG {
  static let palette = ["#3366cc", "#e8833a", "#4f9a5b", "#8e5ea2", "#c44e52", "#777777"]
  static let width = 640.0

  /// Text safe inside HTML and SVG elements and attributes.
  static func escape(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.utf8.count)
    for c in text {
      switch c {
      case "&": out += "&amp;"
      case "<": out += "&lt;"
      case ">": out += "&gt;"
      case "\"": out += "&quot;"
      default: out.append(c)
      }
    }
    return out
  }

  static func number(_ x: Double) -> String { String(format: "%.1f", x) }

  /// An `<svg>` of this height around `body`; `minWidth` keeps wide drawings legible by scrolling.
  static func frame(width: Double = width, height: Double, label: String, _ body: String, minWidth: Double? = nil) -> String {
    let style = minWidth.map { " style=\"min-width:\(Int($0))px\"" } ?? ""
    return "<svg class=\"chart\" role=\"img\" aria-label=\"\(escape(label))\" viewBox=\"0 0 \(number(width)) \(number(height))\""
      + " xmlns=\"http://www.w3.org/2000/svg\"\(style)>\(body)</svg>"
  }

  static func text(_ x: Double, _ y: Double, _ content: String, anchor: String = "start", extra: String = "") -> String {
    "<text x=\"\(number(x))\" y=\"\(number(y))\" text-anchor=\"\(anchor)\"\(extra)>\(escape(content))</text>"
  }

  static func rect(_ x: Double, _ y: Double, _ w: Double, _ h: Double, fill: String, title: String, extra: String = "") -> String {
    "<rect x=\"\(number(x))\" y=\"\(number(y))\" width=\"\(number(max(w, 0)))\" height=\"\(number(h))\" fill=\"\(fill)\"\(extra)>"
      + "<title>\(escape(title))</title></rect>"
  }

  static func legend(_ series: [String], y: Double) -> String {
    var x = 8.0, out = ""
    for (i, name) in series.enumerated() {
      out += rect(x, y - 9, 10, 10, fill: palette[i % palette.count], title: name)
      out += text(x + 14, y, name)
      x += 24 + Double(name.count) * 6.5
    }
    return out
  }

  static func shortened(_ label: String, _ limit: Int) -> String { label.count <= limit ? label : label.prefix(limit - 1) + "…" }

  /// Horizontal bars: one row per group, one bar per series, the value printed after each bar.
  static func barChart(_ chart: FigureChart) -> String {
    let labelWidth = 190.0, barX = 200.0, barRoom = 350.0, rowHeight = 15.0, gap = 9.0
    let top = chart.series.count > 1 ? 26.0 : 6.0
    let largest = chart.groups.flatMap(\.values).filter(\.isFinite).map { abs($0) }.max() ?? 0
    let scale = largest > 0 ? barRoom / largest : 0
    var body = chart.series.count > 1 ? legend(chart.series, y: 14) : ""
    var y = top
    for group in chart.groups {
      let groupHeight = Double(chart.series.count) * rowHeight
      body += text(labelWidth, y + groupHeight / 2 + 4, shortened(group.label, 30), anchor: "end")
      for (s, value) in group.values.enumerated() {
        let name = chart.series.indices.contains(s) ? chart.series[s] : ""
        let rowY = y + Double(s) * rowHeight
        let length = value.isFinite ? abs(value) * scale : 0
        body += rect(
          barX, rowY + 2, length, rowHeight - 4, fill: palette[s % palette.count],
          title: "\(group.label) · \(name): \(chart.text(value))")
        body += text(barX + length + 5, rowY + rowHeight - 4, chart.text(value), extra: " class=\"value\"")
      }
      y += groupHeight + gap
    }
    return frame(height: max(y, 30), label: chart.title, body)
  }

  /// One bar of the timeline: a stage that ran from `start` for `seconds` (after the run began).
  struct Span {
    var name: String
    var start: Double
    var seconds: Double
    var status: String
  }

  /// The stages that ran, laid on parallel lanes (a stage takes the first lane free at its start),
  /// on a seconds axis.
  static func timeline(_ spans: [Span], total: Double) -> String {
    let left = 8.0, room = width - 16, laneHeight = 24.0, top = 8.0
    let end = max(total, spans.map { $0.start + $0.seconds }.max() ?? 0, 0.001)
    var laneEnds: [Double] = [], placed: [(Span, Int)] = []
    for span in spans.sorted(by: { ($0.start, $0.name) < ($1.start, $1.name) }) {
      let lane = laneEnds.firstIndex { $0 <= span.start + 1e-6 } ?? laneEnds.count
      if lane == laneEnds.count { laneEnds.append(0) }
      laneEnds[lane] = span.start + span.seconds
      placed.append((span, lane))
    }
    var body = ""
    let axisY = top + Double(max(laneEnds.count, 1)) * laneHeight + 6
    for (n, (span, lane)) in placed.enumerated() {
      let x = left + span.start / end * room, w = max(span.seconds / end * room, 1.5)
      let y = top + Double(lane) * laneHeight
      // Neighbours in a lane differ in colour; the white edge parts bars that touch.
      let fill = span.status == "failed" ? "#c44e52" : palette[n % 4]
      body += rect(
        x, y, w, laneHeight - 5, fill: fill, title: "\(span.name): \(Format.seconds(span.seconds)) from \(Format.seconds(span.start))",
        extra: " stroke=\"#fff\" stroke-width=\"0.8\"")
      if w > Double(span.name.count) * 6.6 + 6 { body += text(x + 4, y + laneHeight - 10, span.name, extra: " class=\"inside\"") }
    }
    body += "<line x1=\"\(number(left))\" y1=\"\(number(axisY))\" x2=\"\(number(left + room))\" y2=\"\(number(axisY))\" stroke=\"#999\"/>"
    let step = niceStep(end / 6)
    var t = 0.0
    while t <= end + 1e-9 {
      let x = left + t / end * room
      body += "<line x1=\"\(number(x))\" y1=\"\(number(axisY))\" x2=\"\(number(x))\" y2=\"\(number(axisY + 4))\" stroke=\"#999\"/>"
      body += text(x, axisY + 16, Format.seconds(t), anchor: t == 0 ? "start" : "middle")
      t += step
    }
    return frame(height: axisY + 24, label: "stage timeline", body)
  }

  /// 1, 2 or 5 times a power of ten, at least `raw`.
  static func niceStep(_ raw: Double) -> Double {
    guard raw > 0 else { return 1 }
    let power = pow(10, floor(log10(raw)))
    return [1.0, 2, 5, 10].map { $0 * power }.first { $0 >= raw } ?? 10 * power
  }

  /// A stage as a box of the DAG.
  struct Node {
    var name: String
    var detail: String
    var status: String
  }

  static let statusColours = ["ran": "#3366cc", "cached": "#9aa5b1", "failed": "#c44e52", "skipped": "#f0c05a"]

  /// Stages in columns by depth (the longest path from a source), each column ordered by the
  /// mean row of its parents to keep edges short; edges as curves from producer to consumer.
  static func dag(_ nodes: [Node], edges: [(from: Int, to: Int)]) -> String {
    let depth = DagLayout.depths(count: nodes.count, edges: edges)
    let rows = DagLayout.rows(depth: depth, edges: edges)
    let nodeWidth = 150.0, nodeHeight = 30.0, columnGap = 36.0, rowGap = 12.0, margin = 8.0
    let columns = (depth.max() ?? 0) + 1, tallest = (rows.max() ?? 0) + 1
    let totalWidth = margin * 2 + Double(columns) * nodeWidth + Double(columns - 1) * columnGap
    let totalHeight = margin * 2 + Double(tallest) * (nodeHeight + rowGap)
    let x = { (i: Int) in margin + Double(depth[i]) * (nodeWidth + columnGap) }
    let y = { (i: Int) in margin + Double(rows[i]) * (nodeHeight + rowGap) }
    var body = ""
    for edge in edges {
      let x1 = x(edge.from) + nodeWidth, y1 = y(edge.from) + nodeHeight / 2, x2 = x(edge.to), y2 = y(edge.to) + nodeHeight / 2
      let bend = (x2 - x1) / 2
      body +=
        "<path d=\"M\(number(x1)) \(number(y1)) C\(number(x1 + bend)) \(number(y1)) \(number(x2 - bend)) \(number(y2)) \(number(x2)) \(number(y2))\""
        + " fill=\"none\" stroke=\"#8a94a0\" stroke-width=\"1.2\"/>"
    }
    for (i, node) in nodes.enumerated() {
      let fill = statusColours[node.status] ?? "#ffffff"
      body += rect(x(i), y(i), nodeWidth, nodeHeight, fill: fill, title: "\(node.name): \(node.detail)", extra: " rx=\"5\"")
      body += text(x(i) + nodeWidth / 2, y(i) + 19, shortened(node.name, 22), anchor: "middle", extra: " class=\"node\"")
    }
    return frame(width: totalWidth, height: totalHeight, label: "pipeline DAG", body, minWidth: totalWidth * 0.8)
  }

  /// Lines of values over runs (oldest left), one per series, with a point per run.
  static func trend(_ series: [(name: String, values: [Double?])], runLabels: [String], unit: FigureChart.Unit) -> String {
    let left = 70.0, right = width - 12, top = 28.0, bottom = 190.0
    let all = series.flatMap { $0.values.compactMap { $0 } }.filter(\.isFinite)
    let high = (all.max() ?? 1) * 1.1, count = max(runLabels.count, 1)
    let chart = FigureChart(title: "", series: [], groups: [], unit: unit)
    let px = { (i: Int) in count == 1 ? (left + right) / 2 : left + Double(i) / Double(count - 1) * (right - left) }
    let py = { (v: Double) in high > 0 ? bottom - v / high * (bottom - top) : bottom }
    var body = legend(series.map(\.name), y: 14)
    for fraction in [0.0, 0.5, 1.0] {
      let v = high * fraction / 1.1
      body += "<line x1=\"\(number(left))\" y1=\"\(number(py(v)))\" x2=\"\(number(right))\" y2=\"\(number(py(v)))\" stroke=\"#e3e6ea\"/>"
      body += text(left - 6, py(v) + 4, chart.text(v), anchor: "end")
    }
    for (s, line) in series.enumerated() {
      let colour = palette[s % palette.count]
      let points = line.values.enumerated().compactMap { i, v in v.flatMap { $0.isFinite ? (i, $0) : nil } }
      if points.count > 1 {
        body +=
          "<polyline fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\" points=\""
          + points.map { "\(number(px($0.0))),\(number(py($0.1)))" }.joined(separator: " ") + "\"/>"
      }
      for (i, v) in points {
        body +=
          "<circle cx=\"\(number(px(i)))\" cy=\"\(number(py(v)))\" r=\"3.5\" fill=\"\(colour)\">"
          + "<title>\(escape("\(runLabels[i]) · \(line.name): \(chart.text(v))"))</title></circle>"
      }
    }
    let every = max(1, count / 8)
    for (i, label) in runLabels.enumerated() where i % every == 0 || i == count - 1 {
      body += text(px(i), bottom + 16, label, anchor: "middle")
    }
    return frame(height: bottom + 24, label: "trend over runs", body)
  }
}

/// Where each stage of a DAG goes: its column (depth) and row.
enum DagLayout {
  /// The longest path from a source to each node; `edges` go from producer to consumer.
  static func depths(count: Int, edges: [(from: Int, to: Int)]) -> [Int] {
    var depth = [Int](repeating: 0, count: count)
    // Pipeline order is topological, but a relaxation to a fixed point does not rely on it.
    var changed = true
    while changed {
      changed = false
      for e in edges where depth[e.to] < depth[e.from] + 1 {
        depth[e.to] = depth[e.from] + 1
        changed = true
      }
    }
    return depth
  }

  /// Rows within each column: sources in pipeline order, then each column sorted by the mean row
  /// of the node's parents (ties: pipeline order).
  static func rows(depth: [Int], edges: [(from: Int, to: Int)]) -> [Int] {
    var row = [Int](repeating: 0, count: depth.count)
    let parents = Dictionary(grouping: edges, by: \.to).mapValues { $0.map(\.from) }
    for column in 0...(depth.max() ?? 0) {
      let members = depth.indices.filter { depth[$0] == column }
      let key = { (i: Int) -> Double in
        guard let p = parents[i], !p.isEmpty else { return Double(i) }
        return Double(p.map { row[$0] }.reduce(0, +)) / Double(p.count)
      }
      for (r, i) in members.sorted(by: { (key($0), $0) < (key($1), $1) }).enumerated() { row[i] = r }
    }
    return row
  }
}
