import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Pipeline
import Synchronization

/// The few S3 calls a remote cache needs, on one bucket: signed requests retried with backoff,
/// downloads streamed to disk in parallel ranges, uploads in parallel parts (multipart) when large.
struct S3Client: Sendable {
  let location: S3Location
  let signer: SigV4
  /// Objects larger than this are uploaded in parts and downloaded in ranges of this size.
  var partBytes = 32 << 20
  /// Ranges or parts in flight for one object.
  var parallelParts = 4
  var attempts = 4

  init(location: S3Location, credentials: AWSCredentials) {
    self.location = location
    signer = SigV4(credentials: credentials, region: location.region)
  }

  /// A response whose body was read whole (small replies: entries, XML).
  struct Reply: Sendable {
    var status: Int
    var headers: HTTPHeaders
    var body: [UInt8]
    var text: String { String(decoding: body, as: UTF8.self) }
  }

  // MARK: Objects

  /// The size of object `key`, or nil when there is none.
  func size(of key: String) async throws -> Int? {
    let reply = try await send("HEAD", key: key, operation: "look up \(key)", accept: [200, 404])
    guard reply.status == 200 else { return nil }
    return reply.headers.first(name: "content-length").flatMap(Int.init)
  }

  /// The bytes of a small object, or nil when there is none.
  func data(of key: String) async throws -> [UInt8]? {
    let reply = try await send("GET", key: key, operation: "read \(key)", accept: [200, 404])
    if reply.status == 404 {
      // A missing bucket also answers 404: that one is an error, not a miss.
      if S3Error.code(in: reply.text) == "NoSuchBucket" {
        throw S3Error(location: location, operation: "read \(key)", status: 404, body: reply.text)
      }
      return nil
    }
    return reply.body
  }

  func put(_ bytes: [UInt8], as key: String) async throws {
    _ = try await send("PUT", key: key, body: ByteBuffer(bytes: bytes), payloadHash: Digest.of(bytes).hex, operation: "write \(key)")
  }

  /// Downloads object `key` (of `size` bytes) into a new file at `path`, in parallel ranges when
  /// large.
  func download(_ key: String, size: Int, to path: String, progress: @escaping @Sendable (Int) -> Void) async throws {
    let file = try Pipeline.FileDescriptor.open(path, .createExclusive)
    defer { file.close() }
    let ranges = stride(from: 0, to: max(size, 1), by: partBytes).map { $0..<min($0 + partBytes, size) }
    try await forEachConcurrently(ranges.count, width: parallelParts) { n in
      let range = ranges[n]
      let headers = size > partBytes ? ["range": "bytes=\(range.lowerBound)-\(range.upperBound - 1)"] : [:]
      try await retrying("download \(key)") {
        var offset = range.lowerBound
        try await stream("GET", key: key, headers: headers, operation: "download \(key)") { chunk in
          try chunk.withUnsafeReadableBytes { try file.writeAll($0, at: offset) }
          offset += chunk.readableBytes
          progress(chunk.readableBytes)
        }
        guard offset == range.upperBound || size == 0 else {
          throw S3Error(location: location, operation: "download \(key)", status: 0, body: "", detail: "the reply was cut short")
        }
      }
    }
    try file.sync()
  }

  /// Uploads the file at `path` as object `key`: one request when small, else a multipart upload
  /// whose parts go up in parallel (aborted on failure, so no half object is ever visible).
  func upload(_ path: String, as key: String, progress: @escaping @Sendable (Int) -> Void) async throws {
    let file = try Pipeline.FileDescriptor.open(path, .read)
    defer { file.close() }
    let size = try file.size()
    guard size > 2 * partBytes else {
      _ = try await send(
        "PUT", key: key, body: try Self.read(file, 0..<size), payloadHash: SigV4.unsignedPayload, operation: "upload \(key)")
      progress(size)
      return
    }
    let created = try await send("POST", key: key, query: [("uploads", "")], operation: "start uploading \(key)")
    guard let uploadID = S3Error.value("UploadId", in: created.text) else {
      throw S3Error(location: location, operation: "start uploading \(key)", status: created.status, body: created.text)
    }
    let ranges = stride(from: 0, to: size, by: partBytes).map { $0..<min($0 + partBytes, size) }
    let tags = PartTags(count: ranges.count)
    do {
      try await forEachConcurrently(ranges.count, width: parallelParts) { n in
        let reply = try await send(
          "PUT", key: key, query: [("partNumber", String(n + 1)), ("uploadId", uploadID)], body: try Self.read(file, ranges[n]),
          payloadHash: SigV4.unsignedPayload, operation: "upload part \(n + 1) of \(key)")
        guard let etag = reply.headers.first(name: "etag") else {
          throw S3Error(
            location: location, operation: "upload part \(n + 1) of \(key)", status: reply.status, body: "", detail: "no ETag in the reply")
        }
        tags.set(n, etag)
        progress(ranges[n].count)
      }
      let parts = tags.all.enumerated().map { "<Part><PartNumber>\($0.offset + 1)</PartNumber><ETag>\($0.element)</ETag></Part>" }
      let body = Array("<CompleteMultipartUpload>\(parts.joined())</CompleteMultipartUpload>".utf8)
      let done = try await send(
        "POST", key: key, query: [("uploadId", uploadID)], body: ByteBuffer(bytes: body), payloadHash: Digest.of(body).hex,
        operation: "finish uploading \(key)")
      // The call can fail after a 200 status: the error is in the body.
      if S3Error.code(in: done.text) != nil {
        throw S3Error(location: location, operation: "finish uploading \(key)", status: done.status, body: done.text)
      }
    } catch {
      _ = try? await send(
        "DELETE", key: key, query: [("uploadId", uploadID)], operation: "abort uploading \(key)", accept: [200, 204, 404])
      throw error
    }
  }

  private static func read(_ file: Pipeline.FileDescriptor, _ range: Range<Int>) throws -> ByteBuffer {
    var buffer = ByteBufferAllocator().buffer(capacity: range.count)
    try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: range.count) { raw in
      let got = try file.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<range.count]), at: range.lowerBound)
      // A short read means the file shrank under us: the upload would be wrong, so stop.
      guard got == range.count else { throw S3ConfigurationError("\(file.path) changed while being uploaded") }
      return got
    }
    return buffer
  }

  // MARK: Requests

  /// Sends a signed request, retried on transport failures and 5xx replies; any status outside
  /// `accept` is an `S3Error` naming the operation.
  func send(
    _ method: String, key: String?, query: [(String, String)] = [], headers: [String: String] = [:], body: ByteBuffer? = nil,
    payloadHash: String = SigV4.emptyPayload, operation: String, accept: Set<Int> = [200, 204]
  ) async throws -> Reply {
    try await retrying(operation) {
      let response = try await execute(
        method, key: key, query: query, headers: headers, body: body, payloadHash: payloadHash, timeout: .seconds(600))
      var collected = try await response.body.collect(upTo: 64 << 20)
      let reply = Reply(
        status: Int(response.status.code), headers: response.headers, body: collected.readBytes(length: collected.readableBytes) ?? [])
      guard accept.contains(reply.status) else {
        throw S3Error(location: location, operation: operation, status: reply.status, body: reply.text)
      }
      return reply
    }
  }

  /// Sends a signed request and hands the body of a 2xx reply to `chunk` as it arrives.
  private func stream(
    _ method: String, key: String, headers: [String: String], operation: String, chunk: (ByteBuffer) throws -> Void
  ) async throws {
    let response = try await execute(
      method, key: key, query: [], headers: headers, body: nil, payloadHash: SigV4.emptyPayload, timeout: .seconds(600))
    guard (200..<300).contains(Int(response.status.code)) else {
      var body = try await response.body.collect(upTo: 1 << 20)
      throw S3Error(
        location: location, operation: operation, status: Int(response.status.code),
        body: body.readString(length: body.readableBytes) ?? "")
    }
    for try await piece in response.body { try chunk(piece) }
  }

  private func execute(
    _ method: String, key: String?, query: [(String, String)], headers: [String: String], body: ByteBuffer?, payloadHash: String,
    timeout: TimeAmount
  ) async throws -> HTTPClientResponse {
    let (host, path) = location.address(key: key)
    let signed = signer.sign(
      method: method, path: path, query: query, headers: headers.merging(["host": host]) { a, _ in a }, payloadHash: payloadHash,
      date: Date())
    let queryText = query.map { $0.1.isEmpty ? SigV4.encode($0.0) : "\(SigV4.encode($0.0))=\(SigV4.encode($0.1))" }.joined(separator: "&")
    let scheme = location.endpoint.scheme ?? "https"
    var request = HTTPClientRequest(
      url: "\(scheme)://\(host)\(SigV4.encode(path, keepSlashes: true))" + (queryText.isEmpty ? "" : "?" + queryText))
    request.method = HTTPMethod(rawValue: method)
    for (name, value) in headers.merging(signed, uniquingKeysWith: { a, _ in a }) { request.headers.add(name: name, value: value) }
    if let body { request.body = .bytes(body) }
    do {
      return try await HTTPClient.shared.execute(request, timeout: timeout)
    } catch {
      throw S3Error.unreachable(location, error)
    }
  }

  /// Runs `body` up to `attempts` times, waiting 0.25 s, 0.5 s, 1 s… between, while it fails in a
  /// way another try may cure (no connection, a 5xx, a reply cut short).
  private func retrying<T: Sendable>(_ operation: String, _ body: () async throws -> T) async throws -> T {
    var attempt = 0
    while true {
      do { return try await body() } catch let error as S3Error {
        guard error.isTransient, attempt + 1 < attempts else { throw error }
      } catch let error as SystemError {
        throw error
      } catch is CancellationError {
        throw CancellationError()
      } catch {
        // The connection broke mid-reply.
        guard attempt + 1 < attempts else {
          throw S3Error(location: location, operation: operation, status: 0, body: "", detail: S3Error.transportText(error))
        }
      }
      attempt += 1
      try await Task.sleep(nanoseconds: UInt64(250_000_000) << (attempt - 1))
    }
  }
}

/// Runs `body(0..<count)` with at most `width` at once; the first error cancels the rest.
func forEachConcurrently(_ count: Int, width: Int, _ body: @escaping @Sendable (Int) async throws -> Void) async throws {
  try await withThrowingTaskGroup(of: Void.self) { group in
    var next = 0
    while next < min(width, count) {
      let n = next
      group.addTask { try await body(n) }
      next += 1
    }
    while try await group.next() != nil {
      guard next < count else { continue }
      let n = next
      group.addTask { try await body(n) }
      next += 1
    }
  }
}

/// The ETags of a multipart upload's parts, filled in by parallel uploads.
private final class PartTags: Sendable {
  private let tags: Mutex<[String]>
  init(count: Int) { tags = Mutex(Array(repeating: "", count: count)) }
  func set(_ n: Int, _ tag: String) { tags.withLock { $0[n] = tag } }
  var all: [String] { tags.withLock { $0 } }
}
