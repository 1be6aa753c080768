import Foundation
import Pipeline
import TestSupport
import Testing

/// The commands that look at runs and artifacts, on two runs of the demo pipeline (the second with
/// a changed param): `diff`, `report` rendered by a real browser (Debian's headless `chromium`),
/// and `export` / `inspect` decoding ids, names and dates.
@Suite struct DemoRunTests {
  /// Two demo runs, the second with fewer ALS factors (its submission published elsewhere), made
  /// once for both tests.
  static let demoRuns = Result { try twoDemoRuns() }

  static func twoDemoRuns() throws -> (TemporaryDirectory, demo: String) {
    let dir = TemporaryDirectory()
    let demo = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .appendingPathComponent("../../pipelines/demo.json").standardizedFileURL.path
    for (output, extra) in [("out1", [String]()), ("out2", ["--set", "factors=16"])] {
      let run = try CLITests.hmpipe(
        ["run", demo, "--store", "store", "--set", "output=\(dir.path)/\(output)", "--publish-outside-project"] + extra, in: dir.path)
      #expect(run.status == 0, "\(run.stderr)")
    }
    return (dir, demo)
  }

  @Test func diffOfTwoDemoRunsGivesTheParamItsEffectsAndTheSubmissionsOverlap() throws {
    let (dir, demo) = try Self.demoRuns.get()
    let result = try CLITests.hmpipe(["diff", demo, "--store", "store", "--json"], in: dir.path)
    #expect(result.status == 0, "\(result.stderr)")
    let diff = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    let variables = try #require(diff["variables"] as? [[String: Any]])
    #expect(variables.contains { $0["name"] as? String == "factors" && $0["b"] as? String == "16" && $0["a"] is NSNull })
    let stages = try #require(diff["stages"] as? [[String: Any]])
    let changed = Set(stages.filter { $0["outputs"] as? String == "changed" }.compactMap { $0["name"] as? String })
    #expect(changed.isSuperset(of: ["als", "rank", "fill", "fallback", "evaluate"]) && !changed.contains("ingest"), "\(changed)")
    let als = try #require(stages.first { $0["name"] as? String == "als" })
    #expect(als["why"] as? String == "params changed: factors (32 → 16)", "\(als)")
    // The figures side by side are the two run records' own, exactly.
    let records = try Store(root: dir.path + "/store").runRecords()
    let figure = { (run: Int) in records[run].stages.first { $0.name == "evaluate" }!.figures["map@12"]! }
    let map = try #require(
      (diff["figures"] as? [[String: Any]])?.first { $0["stage"] as? String == "evaluate" && $0["figure"] as? String == "map@12" })
    // (Foundation's JSON parser on Linux may be one ulp off the shortest round-trip text.)
    let close = { (x: Any?, y: Double) in abs((x as? Double ?? .nan) - y) <= 1e-15 * abs(y) }
    #expect(close(map["a"], figure(1)) && close(map["b"], figure(0)) && figure(0) != figure(1))
    let seconds = try #require(stages.first { $0["name"] as? String == "rank" })
    #expect(close(seconds["seconds_b"], records[0].stages.first { $0.name == "rank" }!.seconds))
    let predictions = try #require(diff["predictions"] as? [String: Any])
    let share = try #require(predictions["share_in_common"] as? Double)
    #expect(predictions["source"] as? String == "fallback.predictions" && share > 0.2 && share < 1, "\(predictions)")
    let text = try CLITests.hmpipe(["diff", demo, "--store", "store"], in: dir.path).stdout
    #expect(text.contains("--set factors") && text.contains("submissions (fallback.predictions): "), "\(text)")
  }

  /// The page as a browser lays it out: every chart draws shapes of non-zero size, the metrics
  /// and every stage name are in the DOM, and at a phone's width the page itself does not scroll
  /// sideways (wide drawings scroll in their own box).
  @Test func reportRendersInAHeadlessBrowserWithItsChartsAndFigures() throws {
    let (dir, demo) = try Self.demoRuns.get()
    let made = try CLITests.hmpipe(["report", demo, "--store", "store", "--out", "report.html"], in: dir.path)
    #expect(made.status == 0, "\(made.stderr)")
    #expect(made.stdout.contains("wrote report.html"))
    let html = String(decoding: try FileSystem.readAll(dir.path + "/report.html"), as: UTF8.self)
    #expect(!html.contains("<script") && !html.contains("src=\"http") && !html.contains("href=\"http"), "self-contained, no script")
    let record = try #require(try Store(root: dir.path + "/store").runRecords().first)
    let evaluate = try #require(record.stages.first { $0.name == "evaluate" })

    for width in [1000, 390] {
      let dom = try Self.render(html, width: width, in: dir)
      let measured = try #require(Self.between(dom, "<pre id=\"measured\">", "</pre>"))
      let facts = try #require(try JSONSerialization.jsonObject(with: Data(measured.utf8)) as? [String: Any])
      let charts = try #require(facts["charts"] as? [[String: Any]])
      #expect(charts.count >= 10, "verdict charts, segments, DAG, timeline, sizes, trend: \(charts.count)")
      for chart in charts {
        #expect((chart["shapes"] as? Int ?? 0) > 0 && (chart["width"] as? Double ?? 0) > 50, "an empty chart: \(chart)")
      }
      let viewport = try #require(facts["viewportWidth"] as? Int)
      #expect(viewport <= max(width, 500), "chromium's narrowest window is 500 px")
      #expect(
        (facts["pageWidth"] as? Int ?? .max) <= viewport,
        "at \(viewport) px the page must not scroll sideways: \(facts["pageWidth"] ?? "-")")
      for stage in record.stages.map(\.name) { #expect(dom.contains(">\(stage)<"), "stage \(stage) missing from the page") }
      #expect(dom.contains(String(format: "%.5f", evaluate.figures["map@12"]!)))
      #expect(dom.contains(String(format: "%.5f", evaluate.figures["baseline_popularity_map@12"]!)))
      #expect(dom.contains("MAP@12 by age band") && dom.contains("MAP@12 by history length"))
      #expect(dom.contains("factors=16"), "the run's --set values")
    }
  }

  /// Exported predictions carry the customer id and article ids the submission has, row for row;
  /// exported transactions are the synthetic file's rows; `--raw` keeps the stored indexes.
  @Test func exportAndInspectShowIdsNamesAndDates() throws {
    let (dir, demo) = try Self.demoRuns.get()
    let export = { (output: String, extra: [String]) throws -> [Substring] in
      let result = try CLITests.hmpipe(["export", demo, output, "--store", "store", "--out", "x.csv"] + extra, in: dir.path)
      #expect(result.status == 0, "\(result.stderr)")
      return String(decoding: try FileSystem.readAll(dir.path + "/x.csv"), as: UTF8.self).split(separator: "\n")
    }
    let predictions = try export("fallback.predictions", [])
    #expect(predictions.first == "customer_id,articles,sources")
    let submission = String(decoding: try FileSystem.readAll(dir.path + "/out1/submission-holdout7.csv"), as: UTF8.self)
      .split(separator: "\n")
    #expect(submission.count == predictions.count && submission.count > 100)
    for (a, b) in zip(predictions.dropFirst(), submission.dropFirst()) {
      let p = a.split(separator: ","), s = b.split(separator: ",")
      #expect(p[0] == s[0] && p[1] == s[1], "\(a) vs \(b)")
      if p[0] != s[0] || p[1] != s[1] { break }
    }
    #expect(
      predictions[1].split(separator: ",")[2].split(separator: " ").allSatisfy {
        ["rank", "fill", "co-purchase", "popularity"].contains($0)
      })
    let raw = try export("fallback.predictions", ["--raw"])
    #expect(raw.first == "articles,sources" && raw[1].split(separator: ",")[1].allSatisfy { $0 == " " || ("1"..."4").contains($0) })

    let keys = { (lines: [Substring]) in Set(lines.dropFirst().map { $0.split(separator: ",").prefix(3).joined(separator: ",") }) }
    let transactions = try export("ingest.transactions", [])
    #expect(transactions.first == "date,customer_id,article_id,price,channel")
    let original = try export("data.transactions", [])
    #expect(keys(transactions) == keys(original) && transactions.count == original.count, "the ingested rows decode to the file's")

    let articles = try CLITests.hmpipe(["inspect", demo, "ingest.articles", "--store", "store", "--rows", "3"], in: dir.path).stdout
    #expect(articles.contains("first 3 rows (ids, dates and names decoded") && articles.contains("Garment Upper body"), "\(articles)")
    let customers = try CLITests.hmpipe(["inspect", demo, "ingest.customers", "--store", "store"], in: dir.path).stdout
    let head = try #require(customers.components(separatedBy: "first ").last)
    #expect(head.contains("customer_id") && !head.contains("id_word0") && customers.contains("ACTIVE"), "\(customers)")
  }

  /// The Python package reads the demo's artifacts into pandas and polars by stage name: nulls
  /// where the Swift reader counts them, ids, names and dates decoded.
  @Test func pythonPackageReadsArtifactsIntoPandasAndPolars() throws {
    let (dir, demo) = try Self.demoRuns.get()
    let store = try Store(root: dir.path + "/store")
    let ingest = try #require(store.head(pipeline: Digest.of(demo), stage: "ingest"))
    let customers = try store.reader(try #require(ingest.outputs["customers"]?.id)).table()
    let nulls = { (name: String) in ColumnStatistics(try! customers.column(name)).nulls }
    let script = """
      import json, sys
      sys.path.insert(0, sys.argv[1])
      import hmpipe
      pipeline, store = sys.argv[2], sys.argv[3]
      pd = hmpipe.read_pandas(pipeline, "ingest.customers", store=store)
      pl = hmpipe.read_polars(pipeline, "ingest.customers", store=store)
      tx = hmpipe.read_pandas(pipeline, "ingest.transactions", store=store)
      pr = hmpipe.read_polars(pipeline, "fallback.predictions", store=store)
      print(json.dumps({
          "pandas_nulls": {c: int(pd[c].isna().sum()) for c in ["age", "FN"]},
          "polars_nulls": {c: pl[c].null_count() for c in ["age", "FN"]},
          "columns": list(pd.columns), "status": sorted(set(pl["club_member_status"].drop_nulls().to_list())),
          "first_date": str(tx["date"].iloc[0].date()), "date_dtype": str(tx["date"].dtype),
          "prediction_columns": pr.columns, "first_article": pr["articles"][0][0]}))
      """
    let result = try Python.run(script, [Python.packageFolder, demo, dir.path + "/store"])
    #expect(result.status == 0, "needs pandas and polars: scripts/setup.sh --tests installs them")
    let facts = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    for library in ["pandas_nulls", "polars_nulls"] {
      #expect(facts[library] as? [String: Int] == ["age": nulls("age"), "FN": nulls("FN")], "\(library)")
    }
    #expect((facts["columns"] as? [String])?.first == "customer_id" && nulls("age") > 0)
    let status = try #require(facts["status"] as? [String])
    #expect(!status.isEmpty && Set(status).isSubset(of: ["ACTIVE", "LEFT CLUB", "PRE-CREATE"]), "names, not codes: \(status)")
    #expect(facts["first_date"] as? String == "2018-09-20" && (facts["date_dtype"] as? String)?.hasPrefix("datetime64") == true)
    #expect(facts["prediction_columns"] as? [String] == ["customer_id", "articles", "sources"])
    #expect((facts["first_article"] as? String)?.count == 10)
  }

  /// Debian's chromium, headless, prints the DOM after layout; a script appended to a copy of the
  /// page measures each drawing first.
  static func render(_ html: String, width: Int, in dir: TemporaryDirectory) throws -> String {
    let probe = """
      <script>
      const charts = [...document.querySelectorAll('svg.chart')].map(svg => ({
        label: svg.getAttribute('aria-label'), width: svg.getBoundingClientRect().width,
        shapes: [...svg.querySelectorAll('rect,path,circle,polyline')].filter(e => { const b = e.getBBox(); return b.width > 0 || b.height > 0 }).length }));
      const pre = document.createElement('pre'); pre.id = 'measured';
      pre.textContent = JSON.stringify({charts, pageWidth: document.documentElement.scrollWidth, viewportWidth: window.innerWidth});
      document.body.appendChild(pre);
      </script></body>
      """
    let page = dir.path + "/probe-\(width).html"
    try FileSystem.writeAtomically(Array(html.replacingOccurrences(of: "</body>", with: probe).utf8), to: page)
    guard let browser = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first(where: FileManager.default.isExecutableFile) else {
      Issue.record("the report test needs Debian's chromium: apt-get install chromium (.ci/run installs it)")
      return ""
    }
    let result = try Program.run(
      browser,
      [
        "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--user-data-dir=\(dir.path)/chromium-\(width)",
        "--window-size=\(width),900", "--dump-dom", "file://\(page)",
      ])
    #expect(result.status == 0, "chromium exited with \(result.status)")
    return result.stdout
  }

  static func between(_ text: String, _ start: String, _ end: String) -> String? {
    guard let a = text.range(of: start), let b = text.range(of: end, range: a.upperBound..<text.endIndex) else { return nil }
    return String(text[a.upperBound..<b.lowerBound]).replacingOccurrences(of: "&quot;", with: "\"")
      .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">").replacingOccurrences(of: "&amp;", with: "&")
  }
}
