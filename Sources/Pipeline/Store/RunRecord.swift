import Foundation

/// What one `hmpipe run` did: which stages ran or came from cache, why, how long, how big.
public struct RunRecord: Codable, Sendable {
  /// One stage's part in a run.
  public struct StageRecord: Codable, Sendable {
    public enum Status: String, Codable, Sendable { case ran, cached, failed, skipped }
    public var name: String
    public var status: Status
    public var reason: String
    public var seconds: Double
    /// Rows of the stage's table outputs (file outputs count in the byte figures only).
    public var rows: Int
    public var rawBytes: Int
    public var storedBytes: Int
    /// Peak resident memory of the process while the stage ran (the whole process: with parallel
    /// stages, theirs together).
    public var peakMemoryBytes: Int
    public var outputs: [String: ArtifactID]
    @FigureValues public var figures: [String: Double]
    public var error: String?
    /// When the stage started (or was found cached), for the report's timeline.
    public var startedAt: Date? = nil
    /// The last lines the stage logged when it ran (a command stage's stdout and stderr among them).
    public var log: [String]? = nil
    /// "remote" when the outputs came from the remote cache; nil when computed or found locally.
    public var from: String? = nil

    public init(
      name: String, status: Status, reason: String, seconds: Double, rows: Int = 0, rawBytes: Int = 0, storedBytes: Int = 0,
      peakMemoryBytes: Int = 0, outputs: [String: ArtifactID] = [:], figures: [String: Double] = [:], error: String? = nil,
      startedAt: Date? = nil
    ) {
      (self.name, self.status, self.reason, self.seconds, self.rows) = (name, status, reason, seconds, rows)
      (self.rawBytes, self.storedBytes, self.peakMemoryBytes, self.outputs) = (rawBytes, storedBytes, peakMemoryBytes, outputs)
      (self.figures, self.error, self.startedAt) = (figures, error, startedAt)
    }
  }

  public var pipeline: String
  public var startedAt: Date
  public var seconds: Double
  public var command: String
  /// The machine and build: cores, CPU model, OpenBLAS kernel, build type, hmpipe's version, jobs.
  public var environment: [String: String]
  public var stages: [StageRecord]
  /// The `--set` values of the run (canonical JSON text), the variant it is.
  public var variables: [String: String]? = nil
  /// SHA-256 of the pipeline file's bytes.
  public var pipelineHash: String? = nil
  /// The git commit the pipeline file's folder was checked out at, when it is in a repository.
  public var gitCommit: String? = nil

  public init(
    pipeline: String, startedAt: Date, seconds: Double, command: String, environment: [String: String], stages: [StageRecord]
  ) {
    (self.pipeline, self.startedAt, self.seconds, self.command) = (pipeline, startedAt, seconds, command)
    (self.environment, self.stages) = (environment, stages)
  }
}

/// A stage's named figures (rows skipped, loss, recall) as stored in run records and cache entries.
/// JSON has no NaN or infinity: such a figure is written as null and read back as NaN, so one bad
/// figure never stops a record from being written.
@propertyWrapper
public struct FigureValues: Codable, Sendable {
  public var wrappedValue: [String: Double]

  public init(wrappedValue: [String: Double]) { self.wrappedValue = wrappedValue }

  public init(from decoder: any Decoder) throws {
    wrappedValue = try decoder.singleValueContainer().decode([String: Double?].self).mapValues { $0 ?? .nan }
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(wrappedValue.mapValues { $0.isFinite ? $0 : nil })
  }
}
