import ArgumentParser
import Foundation
import Pipeline

/// `hmpipe push`: uploads a pipeline's current results to its remote cache.
struct Push: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Upload the pipeline's current stage results that the remote cache lacks (objects, then cache entries).")

  @OptionGroup var options: PipelineOptions
  @OptionGroup var remote: RemoteOptions

  func run() async throws {
    try await RemoteTransfer.perform("push", options: options, remote: remote, RemoteSync.push)
  }
}

/// `hmpipe pull`: downloads a pipeline's results from its remote cache.
struct Pull: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Download the pipeline's stage results that the remote cache holds and this store lacks (each object checked).")

  @OptionGroup var options: PipelineOptions
  @OptionGroup var remote: RemoteOptions

  func run() async throws {
    try await RemoteTransfer.perform("pull", options: options, remote: remote, RemoteSync.pull)
  }
}

/// What `push` and `pull` share: opening the remote (required: there is nothing to do without it),
/// the transfer, and its report.
enum RemoteTransfer {
  typealias Sync = @Sendable (PipelineSpec, Store, @escaping @Sendable (String) -> Void) throws -> RemoteSync.Report

  static func perform(_ verb: String, options: PipelineOptions, remote: RemoteOptions, _ sync: @escaping Sync) async throws {
    var required = remote
    required.requireRemote = true
    let (spec, store) = try options.load(remote: required)
    guard let cache = store.remote else {
      throw ValidationError(
        "\(verb) needs a remote cache: give --remote s3://BUCKET/PREFIX, set HMPIPE_REMOTE, or add \"remote\" to the pipeline file")
    }
    let report = try await offloaded {
      try cache.check()
      return try sync(spec, store) { print("  \($0)") }
    }
    let direction = verb == "push" ? "to" : "from"
    let rate = report.seconds > 0 ? ", \(Format.bytes(Int(Double(report.bytes) / report.seconds)))/s" : ""
    print(
      "\(verb) \(direction) \(cache.location): \(report.copied) stage result\(report.copied == 1 ? "" : "s") copied "
        + "(\(Format.bytes(report.bytes)) in \(Format.seconds(report.seconds))\(rate)), \(report.alreadyThere) already there")
    for (stage, reason) in report.missing { print("  \(stage): \(reason)") }
  }
}
