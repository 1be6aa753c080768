import Foundation
import Pipeline
import TestSupport
import Testing

/// Every pipeline in pipelines/examples/ runs from the repository as shipped, and the Python
/// package reads its outputs by stage name with ids decoded.
@Suite struct ExamplePipelineTests {
  static var repository: String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardizedFileURL.path
  }

  @Test func pythonRankerRunsBetweenSwiftStagesAndIsCachedTheSecondTime() throws {
    let dir = TemporaryDirectory()
    let pipeline = Self.repository + "/pipelines/examples/python-rank.json"
    let arguments = ["run", pipeline, "--store", "store", "--set", "output=\(dir.path)/out", "--publish-outside-project", "--json"]
    let first = try CLITests.hmpipe(arguments, in: dir.path)
    #expect(first.status == 0, "\(first.stderr)")
    let stages = CLITests.stages(try CLITests.json(first.stdout))
    #expect(stages.first { $0["name"] as? String == "py-rank" }?["status"] as? String == "ran")
    #expect(first.stderr.contains("py-rank     ranked 2744 customers' candidates"), "the program's stdout in the log: \(first.stderr)")
    let evaluate = try #require(stages.first { $0["name"] as? String == "evaluate" }?["figures"] as? [String: Double])
    #expect((evaluate["map@12"] ?? 0) > 0)
    let second = try CLITests.hmpipe(arguments, in: dir.path)
    #expect(CLITests.stages(try CLITests.json(second.stdout)).allSatisfy { $0["status"] as? String == "cached" })

    // The package finds fallback's predictions by stage name and decodes them as the submission has them.
    let script = """
      import sys
      sys.path.insert(0, sys.argv[1])
      import hmpipe
      p = hmpipe.read(sys.argv[2], "fallback.predictions", store=sys.argv[3])
      print(p["customer_id"][0] + "," + " ".join(p["articles"][0]))
      """
    let line = try Python.run(script, [Python.packageFolder, pipeline, dir.path + "/store"]).stdout
    let submission = String(decoding: try FileSystem.readAll(dir.path + "/out/submission-python-rank-holdout7.csv"), as: UTF8.self)
    #expect(submission.split(separator: "\n")[1] + "\n" == line, "\(line)")
  }
}
