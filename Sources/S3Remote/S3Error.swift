import Foundation

/// A request to the remote cache's S3 service failed: one sentence saying what was being done,
/// where, and what to check.
public struct S3Error: Error, Sendable, CustomStringConvertible {
  public var location: S3Location
  public var operation: String
  /// The HTTP status, or 0 when no reply came.
  public var status: Int
  /// S3's error code (`NoSuchBucket`, `SignatureDoesNotMatch`, …) when the reply had one.
  public var code: String?
  public var message: String?
  public var detail: String?

  init(location: S3Location, operation: String, status: Int, body: String, detail: String? = nil) {
    self.location = location
    self.operation = operation
    self.status = status
    code = Self.code(in: body)
    message = Self.value("Message", in: body)
    self.detail = detail
  }

  /// A request that got no (whole) reply.
  static func transport(_ location: S3Location, _ operation: String, _ error: any Error) -> S3Error {
    S3Error(location: location, operation: operation, status: 0, body: "", detail: transportText(error))
  }

  /// Whether trying again may help: no reply, a reply cut short, or the service busy or failing.
  var isTransient: Bool { status == 0 || status >= 500 || code == "SlowDown" || code == "RequestTimeout" }

  public var description: String {
    let remote = "remote cache \(location)"
    let endpoint = location.endpoint.absoluteString
    switch (status, code) {
    case (0, _) where detail == "connection refused" || detail == "timed out":
      return "\(remote): cannot reach \(endpoint) (\(detail ?? "no reply")); is the endpoint (AWS_ENDPOINT_URL) right and the service up?"
    case (_, "NoSuchBucket"):
      return
        "\(remote): the bucket '\(location.bucket)' does not exist at \(endpoint); create it (aws s3 mb s3://\(location.bucket)) or fix the address"
    case (_, "InvalidAccessKeyId"), (_, "SignatureDoesNotMatch"), (403, nil), (401, _):
      return "\(remote): \(endpoint) refused the credentials (\(code ?? "HTTP \(status)")) while trying to \(operation); "
        + "check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or ~/.aws/credentials)"
    case (_, "AccessDenied"):
      return "\(remote): access denied while trying to \(operation); the credentials lack permission on s3://\(location.bucket)"
    case (0, _):
      return "\(remote): cannot \(operation): the connection to \(endpoint) failed (\(detail ?? "no reply"))"
    default:
      let what = [code, message, detail].compactMap { $0 }.joined(separator: ": ")
      return "\(remote): cannot \(operation): HTTP \(status)" + (what.isEmpty ? "" : " (\(what))")
    }
  }

  /// The text of the first `<tag>…</tag>` in an S3 XML reply.
  static func value(_ tag: String, in xml: String) -> String? {
    guard let open = xml.range(of: "<\(tag)>"), let close = xml.range(of: "</\(tag)>", range: open.upperBound..<xml.endIndex) else {
      return nil
    }
    return String(xml[open.upperBound..<close.lowerBound])
  }

  /// The `<Code>` of an S3 error reply.
  static func code(in xml: String) -> String? { xml.contains("<Error>") ? value("Code", in: xml) : nil }

  /// A transport error in a few words ("connection refused", "timed out").
  static func transportText(_ error: any Error) -> String {
    let text = String(describing: error)
    if text.localizedCaseInsensitiveContains("refused") { return "connection refused" }
    if ["timeout", "timed out", "deadline"].contains(where: { text.localizedCaseInsensitiveContains($0) }) { return "timed out" }
    if text.localizedCaseInsensitiveContains("reset") { return "connection reset" }
    return text
  }
}
