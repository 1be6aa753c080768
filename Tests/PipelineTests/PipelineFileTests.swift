import Foundation
import Pipeline
import Testing

@testable import pipeline_toy

/// Every kind of bad pipeline file gets its own clear error naming the file and the JSON path.
@Suite struct PipelineFileTests {
  static let source = #"{"name": "source", "kind": "toy-source"}"#

  /// (pipeline file text, expected JSON path, words the message must contain)
  static let cases: [(String, String, String)] = [
    ("{\"stages\": [", "", "not valid JSON"),
    ("[1, 2]", "", "must be a JSON object"),
    (#"{"stages": [], "colour": 1}"#, "colour", "unknown field"),
    (#"{"name": "x"}"#, "stages", "is missing"),
    (#"{"stages": {}}"#, "stages", "must be an array"),
    (#"{"stages": [3]}"#, "stages[0]", "must be an object"),
    (#"{"stages": [{"kind": "toy-source"}]}"#, "stages[0].name", "every stage needs a name"),
    (#"{"stages": [{"name": "a b", "kind": "toy-source"}]}"#, "stages[0].name", "may hold only letters"),
    (#"{"stages": [{"name": "a"}]}"#, "stages[0].kind", "every stage needs a kind"),
    (#"{"stages": [{"name": "a", "kind": "toy-sorce"}]}"#, "stages[0].kind", "unknown stage kind 'toy-sorce' (did you mean 'toy-source'?)"),
    (#"{"stages": [\#(source), \#(source)]}"#, "stages[1].name", "used twice"),
    (
      #"{"stages": [{"name": "a", "kind": "toy-source", "params": {"cont": 3}}]}"#, "stages[0].params.cont",
      "unknown param for kind 'toy-source' (did you mean 'count'?)"
    ),
    (
      #"{"stages": [{"name": "a", "kind": "toy-source", "params": {"count": "many"}}]}"#, "stages[0].params.count",
      "must be an integer but is a string (\"many\")"
    ),
    (#"{"stages": [{"name": "a", "kind": "toy-source", "params": {"count": 1.5}}]}"#, "stages[0].params.count", "must be an integer"),
    (
      #"{"stages": [{"name": "a", "kind": "toy-source", "params": {"count": -4}}]}"#, "stages[0].params.count", "must be at least 0, not -4"
    ),
    (#"{"stages": [{"name": "a", "kind": "toy-source", "params": []}]}"#, "stages[0].params", "must be an object"),
    (#"{"stages": [\#(source), {"name": "s", "kind": "toy-sum"}]}"#, "stages[1].inputs", "input 'numbers' of kind 'toy-sum' is missing"),
    (
      #"{"stages": [\#(source), {"name": "s", "kind": "toy-sum", "inputs": {"numbers": "source", "extra": "source"}}]}"#,
      "stages[1].inputs.extra", "has no input 'extra'"
    ),
    (
      #"{"stages": [{"name": "s", "kind": "toy-sum", "inputs": {"numbers": "sorce.numbers"}}, \#(source)]}"#, "stages[0].inputs.numbers",
      "no stage named 'sorce' (did you mean 'source'?)"
    ),
    (
      #"{"stages": [\#(source), {"name": "s", "kind": "toy-sum", "inputs": {"numbers": "source.total"}}]}"#, "stages[1].inputs.numbers",
      "has no output 'total'"
    ),
    (
      #"{"stages": [\#(source), {"name": "s", "kind": "toy-sum", "inputs": {"numbers": "file:x.csv"}}]}"#, "stages[1].inputs.numbers",
      "takes a stage output"
    ),
    (
      #"{"stages": [\#(source), {"name": "s", "kind": "toy-lines", "inputs": {"source": "source"}}]}"#, "stages[1].inputs.source",
      "takes a file"
    ),
    (
      #"{"stages": [\#(source), {"name": "s", "kind": "toy-sum", "inputs": {"numbers": ".x"}}]}"#, "stages[1].inputs.numbers",
      "neither 'stage.output' nor 'file:path'"
    ),
    (#"{"stages": [{"name": "a", "kind": "toy-source", "params": {"count": "${n}"}}]}"#, "stages[0].params.count", "unknown variable 'n'"),
    (
      #"{"stages": [{"name": "a", "kind": "toy-sum", "inputs": {"numbers": "c"}}, {"name": "b", "kind": "toy-sum", "inputs": {"numbers": "a"}}, {"name": "c", "kind": "toy-sum", "inputs": {"numbers": "b"}}]}"#,
      "stages", "the stages form a cycle: a → b → c → a"
    ),
    (#"{"stages": [{"name": "a", "kind": "toy-source", "publish": ["x"]}]}"#, "stages[0].publish", "must be an object"),
    (
      #"{"stages": [{"name": "a", "kind": "toy-source", "publish": {"number": "out.txt"}}]}"#, "stages[0].publish.number",
      "has no output 'number'"
    ),
    (#"{"extends": "bad.json", "stages": []}"#, "", "cannot read the pipeline file"),
  ]

  @Test(arguments: 0..<cases.count)
  func badPipelineFileGetsItsOwnError(index: Int) throws {
    let (text, path, words) = Self.cases[index]
    let dir = TemporaryDirectory()
    let file = dir.write("p.json", text)
    let error = try #require(throws: PipelineFileError.self) {
      try PipelineLoader(registry: ToyStages.registry).load(file)
    }
    let where_ = index == Self.cases.count - 1 ? "bad.json" : file
    #expect(error.file == where_)
    #expect(error.path == path)
    #expect(error.message.contains(words), "\(error)")
  }

  @Test func setOfAnUndeclaredVariableIsRejected() throws {
    let dir = TemporaryDirectory()
    let file = dir.write("p.json", toyPipeline())
    let error = try #require(throws: PipelineFileError.self) {
      try PipelineLoader(registry: ToyStages.registry, overrides: ["cuont": .int(3)]).load(file)
    }
    #expect(error.message.contains("--set names 'cuont'"))
  }

  /// A bad value given by `--set` is the command line's fault: the error names the `--set` and the
  /// stage by name, not a place in a file the user did not write.
  @Test func aBadSetValueNamesTheSet() throws {
    let dir = TemporaryDirectory()
    let file = dir.write("p.json", toyPipeline())
    for (value, words) in [(JSONValue.string("many"), "must be an integer"), (.int(-4), "must be at least 0, not -4")] {
      let error = try #require(throws: PipelineFileError.self) {
        try PipelineLoader(registry: ToyStages.registry, overrides: ["count": value]).load(file)
      }
      #expect(error.file == "--set count=\(value.canonical)" && error.path == "stage 'source' param 'count'", "\(error)")
      #expect(error.message.contains(words) && error.isUsageError, "\(error)")
    }
    // The same value written in the file stays the file's fault, at its place.
    let written = dir.write("q.json", toyPipeline().replacingOccurrences(of: "\"count\": 100", with: "\"count\": \"many\""))
    let error = try #require(throws: PipelineFileError.self) { try PipelineLoader(registry: ToyStages.registry).load(written) }
    #expect(error.file == written && error.path == "stages[0].params.count" && !error.isUsageError, "\(error)")
  }

  /// Invalid JSON is placed: the line and column where the grammar first breaks (the unexpected
  /// character, as Python's json module reports it) and what was expected there.
  @Test(arguments: [
    (
      "{\"stages\": [\n {\"name\": \"a\", \"kind\": \"toy-source\"\n  \"params\": {}}]}",
      "line 3, column 3: expected ',' or '}' after the value"
    ),
    ("{\"stages\": [\n {\"name\": \"a\n\"}]}", "line 2, column 13: a control character inside a string"),
    ("{\"stages\": [1, 2,, 3]}", "line 1, column 18: expected a value"),
    ("{\"stages\": [tru]}", "line 1, column 16: expected 'true' (found ']')"),
    ("{\"stages\": []} x", "line 1, column 16: expected the end of the text"),
    ("{\"stages\": [1.e5]}", "line 1, column 15: expected a digit after the decimal point"),
    ("{\"stages\": \"abc", "line 1, column 16: a string without its closing double quote"),
  ])
  func invalidJSONSaysWhere(text: String, words: String) throws {
    let dir = TemporaryDirectory()
    let file = dir.write("bad.json", text)
    let error = try #require(throws: PipelineFileError.self) { try PipelineLoader(registry: ToyStages.registry).load(file) }
    #expect(error.message.contains("not valid JSON: " + words), "\(error)")
  }

  @Test func theSyntaxScannerAcceptsWhatFoundationAccepts() {
    for text in [#"{"a": [1, -2.5e3, true, false, null, "x\u00e9\n"], "b": {}}"#, "[]", " 3 ", #"{"a": [1, 2,],}"#] {
      #expect(JSONSyntax.firstProblem(Array(text.utf8)) == nil, "\(text)")
    }
  }

  @Test func extendsLoopIsRejected() throws {
    let dir = TemporaryDirectory()
    dir.write("a.json", #"{"extends": "b.json"}"#)
    let file = dir.write("b.json", #"{"extends": "a.json"}"#)
    #expect(throws: PipelineFileError.self) { try PipelineLoader(registry: ToyStages.registry).load(file) }
  }

  @Test func extendsOverridesVariablesAndParamsWithoutRepeatingTheDAG() throws {
    let dir = TemporaryDirectory()
    dir.write("base.json", toyPipeline(count: 10))
    let file = dir.write(
      "small.json", #"{"extends": "base.json", "vars": {"count": 3}, "stages": [{"name": "clamp", "params": {"max": 2}}]}"#)
    let spec = try PipelineLoader(registry: ToyStages.registry).load(file)
    #expect(spec.stages.map(\.name) == ["source", "clamp", "sum", "scale"])
    #expect(spec.stage("source")?.params["count"] == .int(3))
    #expect(spec.stage("clamp")?.params["max"] == .int(2))
    #expect(spec.stage("clamp")?.inputs["numbers"] == .output(stage: "source", output: "numbers"))
  }

  @Test func defaultsAreFilledInSoAnExplicitDefaultKeepsTheKey() throws {
    let dir = TemporaryDirectory()
    let implicit = dir.write("a.json", #"{"stages": [{"name": "s", "kind": "toy-source"}]}"#)
    let explicit = dir.write("b.json", #"{"stages": [{"name": "s", "kind": "toy-source", "params": {"count": 1000, "seed": 1.0}}]}"#)
    let a = try PipelineLoader(registry: ToyStages.registry).load(implicit)
    let b = try PipelineLoader(registry: ToyStages.registry).load(explicit)
    #expect(a.stages[0].params.canonical == b.stages[0].params.canonical)
  }

  @Test func stringsSpliceVariablesAndWholeReferencesKeepTheirType() throws {
    let dir = TemporaryDirectory()
    let file = dir.write(
      "p.json",
      #"{"vars": {"n": 7, "dir": "data"}, "stages": [{"name": "s", "kind": "toy-source", "params": {"count": "${n}"}}, {"name": "l", "kind": "toy-lines", "inputs": {"source": "file:${dir}/x-${n}.txt"}}]}"#
    )
    let spec = try PipelineLoader(registry: ToyStages.registry).load(file)
    #expect(spec.stage("s")?.params["count"] == .int(7))
    #expect(spec.stage("l")?.inputs["source"] == .file(dir.path + "/data/x-7.txt"))
  }
}
