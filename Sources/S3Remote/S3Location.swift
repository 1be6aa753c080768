import Foundation

/// Where a remote cache lives: a bucket and key prefix on an S3-compatible service, the endpoint that
/// serves it and the region requests are signed for.
public struct S3Location: Sendable, CustomStringConvertible {
  public var bucket: String
  /// The key prefix, without leading or trailing slashes ("" for the bucket's root).
  public var prefix: String
  /// The service's base URL, `https://s3.REGION.amazonaws.com` for AWS.
  public var endpoint: URL
  public var region: String
  /// Whether the bucket goes in the path (`endpoint/bucket/key`: MinIO, SeaweedFS, Ceph) rather than
  /// the host name (`bucket.s3.region.amazonaws.com/key`: AWS).
  public var pathStyle: Bool

  /// Parses `s3://BUCKET/PREFIX`, taking the endpoint from `AWS_ENDPOINT_URL_S3` or
  /// `AWS_ENDPOINT_URL` (a non-AWS service, addressed path-style) and the region from `AWS_REGION`
  /// or `AWS_DEFAULT_REGION` (default us-east-1).
  public init(url: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
    guard url.hasPrefix("s3://") else {
      throw S3ConfigurationError("remote '\(url)' is not an s3://BUCKET/PREFIX address")
    }
    let rest = url.dropFirst(5)
    let bucket = String(rest.prefix { $0 != "/" })
    guard Self.isBucketName(bucket) else {
      throw S3ConfigurationError(
        "remote '\(url)': '\(bucket)' is not a bucket name (3 to 63 lowercase letters, digits, dots and hyphens)")
    }
    self.bucket = bucket
    prefix = rest.dropFirst(bucket.count).split(separator: "/").joined(separator: "/")
    region = environment["AWS_REGION"].nonEmpty ?? environment["AWS_DEFAULT_REGION"].nonEmpty ?? "us-east-1"
    if let custom = environment["AWS_ENDPOINT_URL_S3"].nonEmpty ?? environment["AWS_ENDPOINT_URL"].nonEmpty {
      guard let endpoint = URL(string: custom), let scheme = endpoint.scheme, ["http", "https"].contains(scheme), endpoint.host != nil
      else {
        throw S3ConfigurationError("AWS_ENDPOINT_URL '\(custom)' is not an http:// or https:// URL")
      }
      self.endpoint = endpoint
      pathStyle = true
    } else {
      endpoint = URL(string: "https://s3.\(region).amazonaws.com")!
      pathStyle = false
    }
  }

  public var description: String { "s3://\(bucket)" + (prefix.isEmpty ? "" : "/\(prefix)") }

  /// The key of `name` under the prefix.
  func key(_ name: String) -> String { prefix.isEmpty ? name : prefix + "/" + name }

  /// The host and path a request for `key` (nil: the bucket itself) goes to.
  func address(key: String?) -> (host: String, path: String) {
    let port = endpoint.port.map { ":\($0)" } ?? ""
    let base = endpoint.path.hasSuffix("/") ? String(endpoint.path.dropLast()) : endpoint.path
    let object = key.map { "/" + $0 } ?? ""
    if pathStyle { return (endpoint.host! + port, base + "/" + bucket + object) }
    return ("\(bucket).\(endpoint.host!)\(port)", base + (object.isEmpty ? "/" : object))
  }

  static func isBucketName(_ name: String) -> Bool {
    (3...63).contains(name.count) && name.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "." || $0 == "-" }
      && name.first!.isLetterOrNumber && name.last!.isLetterOrNumber
  }
}

/// A remote cache that is described wrongly (its address, endpoint or credentials).
public struct S3ConfigurationError: Error, Sendable, CustomStringConvertible {
  public var description: String
  init(_ description: String) { self.description = description }
}

extension String? {
  var nonEmpty: String? { self.flatMap { $0.isEmpty ? nil : $0 } }
}

extension Character {
  var isLetterOrNumber: Bool { isLetter || isNumber }
}
