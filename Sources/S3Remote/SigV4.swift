import Crypto
import Foundation
import Pipeline

/// AWS Signature Version 4 for S3 requests: the `Authorization` header a request needs, computed
/// from its method, path, query, headers and payload hash.
struct SigV4 {
  var credentials: AWSCredentials
  var region: String
  var service = "s3"

  /// The hash S3 accepts in place of a body's SHA-256 (bodies are checked by content id instead).
  static let unsignedPayload = "UNSIGNED-PAYLOAD"
  static let emptyPayload = Pipeline.Digest.of([UInt8]()).hex

  /// The headers to add to a request: `x-amz-date`, `x-amz-content-sha256`, the session token if
  /// any, and `authorization`. `headers` are the others to sign (at least `host`).
  func sign(
    method: String, path: String, query: [(String, String)], headers: [String: String], payloadHash: String, date: Date
  ) -> [String: String] {
    let stamp = Self.timestamp(date)
    let day = String(stamp.prefix(8))
    var signed = Dictionary(uniqueKeysWithValues: headers.map { ($0.key.lowercased(), $0.value.trimmingCharacters(in: .whitespaces)) })
    signed["x-amz-date"] = stamp
    signed["x-amz-content-sha256"] = payloadHash
    if let token = credentials.sessionToken { signed["x-amz-security-token"] = token }
    let names = signed.keys.sorted()
    let canonicalQuery = query.map { (Self.encode($0.0), Self.encode($0.1)) }.sorted { $0 < $1 }.map { "\($0.0)=\($0.1)" }
      .joined(separator: "&")
    let canonical = [
      method, Self.encode(path, keepSlashes: true), canonicalQuery,
      names.map { "\($0):\(signed[$0]!)\n" }.joined(), names.joined(separator: ";"), payloadHash,
    ].joined(separator: "\n")
    let scope = "\(day)/\(region)/\(service)/aws4_request"
    let toSign = ["AWS4-HMAC-SHA256", stamp, scope, Pipeline.Digest.of(canonical).hex].joined(separator: "\n")
    var key = SymmetricKey(data: Array(("AWS4" + credentials.secretKey).utf8))
    for part in [day, region, service, "aws4_request"] { key = SymmetricKey(data: Self.hmac(key, part)) }
    let signature = Self.hmac(key, toSign).map { String(format: "%02x", $0) }.joined()
    var result = signed.filter { $0.key.hasPrefix("x-amz-") }
    result["authorization"] =
      "AWS4-HMAC-SHA256 Credential=\(credentials.accessKey)/\(scope), SignedHeaders=\(names.joined(separator: ";")), Signature=\(signature)"
    return result
  }

  private static func hmac(_ key: SymmetricKey, _ text: String) -> [UInt8] {
    Array(HMAC<SHA256>.authenticationCode(for: Array(text.utf8), using: key))
  }

  /// `yyyyMMdd'T'HHmmss'Z'` in UTC: the record timestamp without separators or milliseconds.
  static func timestamp(_ date: Date) -> String {
    String(Timestamp.text(date).prefix(19).filter { $0 != "-" && $0 != ":" }) + "Z"
  }

  /// Percent-encodes all but RFC 3986's unreserved characters (and `/` in paths), as SigV4 wants.
  static func encode(_ text: String, keepSlashes: Bool = false) -> String {
    var out = ""
    for byte in text.utf8 {
      let c = Character(Unicode.Scalar(byte))
      if c.isASCII && (c.isLetter || c.isNumber || "-._~".contains(c) || (keepSlashes && c == "/")) {
        out.append(c)
      } else {
        out += String(format: "%%%02X", byte)
      }
    }
    return out
  }
}
