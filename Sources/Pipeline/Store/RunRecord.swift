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
    public var figures: [String: Double]
    public var error: String?
  }

  public var pipeline: String
  public var startedAt: Date
  public var seconds: Double
  public var command: String
  public var environment: [String: String]
  public var stages: [StageRecord]
}
