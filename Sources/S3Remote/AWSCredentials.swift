import Foundation
import Pipeline

/// An access key pair (and session token) as the AWS tools find it: `AWS_ACCESS_KEY_ID` and
/// `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`) in the environment, else the profile
/// `AWS_PROFILE` (default "default") of `~/.aws/credentials` (or `AWS_SHARED_CREDENTIALS_FILE`).
public struct AWSCredentials: Sendable {
  public var accessKey: String
  public var secretKey: String
  public var sessionToken: String?

  public init(accessKey: String, secretKey: String, sessionToken: String? = nil) {
    self.accessKey = accessKey
    self.secretKey = secretKey
    self.sessionToken = sessionToken
  }

  public static func find(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> AWSCredentials {
    if let key = environment["AWS_ACCESS_KEY_ID"].nonEmpty {
      guard let secret = environment["AWS_SECRET_ACCESS_KEY"].nonEmpty else {
        throw S3ConfigurationError("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not")
      }
      return AWSCredentials(accessKey: key, secretKey: secret, sessionToken: environment["AWS_SESSION_TOKEN"].nonEmpty)
    }
    let home = environment["HOME"] ?? NSHomeDirectory()
    let path = environment["AWS_SHARED_CREDENTIALS_FILE"].nonEmpty ?? home + "/.aws/credentials"
    let profile = environment["AWS_PROFILE"].nonEmpty ?? "default"
    guard let bytes = try? FileSystem.readAll(path) else {
      throw S3ConfigurationError(
        "no credentials for the remote cache: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or write them to \(path)")
    }
    let values = Self.profile(profile, in: String(decoding: bytes, as: UTF8.self))
    guard let key = values["aws_access_key_id"], let secret = values["aws_secret_access_key"] else {
      throw S3ConfigurationError("\(path) has no aws_access_key_id and aws_secret_access_key in profile [\(profile)]")
    }
    return AWSCredentials(accessKey: key, secretKey: secret, sessionToken: values["aws_session_token"])
  }

  /// The `key = value` lines of section `[name]` of an INI text.
  static func profile(_ name: String, in text: String) -> [String: String] {
    var section = "", values: [String: String] = [:]
    for raw in text.split(whereSeparator: \.isNewline) {
      let line = raw.trimmingCharacters(in: .whitespaces)
      if line.hasPrefix("#") || line.hasPrefix(";") || line.isEmpty { continue }
      if line.hasPrefix("[") && line.hasSuffix("]") {
        section = line.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
        continue
      }
      guard section == name, let equals = line.firstIndex(of: "=") else { continue }
      values[line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()] =
        line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
    }
    return values
  }
}
