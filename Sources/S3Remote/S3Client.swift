import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Pipeline
import Synchronization

/// The few S3 calls a remote cache needs, on one bucket: signed requests retried with backoff,
/// downloads streamed to disk in parallel ranges, uploads in parallel parts (multipart) when large.
///
/// Calls block their thread on the HTTP client's own event loops, never on Swift's cooperative
/// threads or Dispatch's pool, so callers on either cannot starve the transfers they wait for.
struct S3Client: Sendable {
  let location: S3Location
  let signer: SigV4
  /// Objects larger than twice this are uploaded in parts and downloaded in ranges of this size.
  var partBytes = 32 << 20
  /// Ranges or parts in flight for one object.
  var parallelParts = 4
  var attempts = 4

  init(location: S3Location, credentials: AWSCredentials) {
    self.location = location
    signer = SigV4(credentials: credentials, region: location.region)
  }

  /// A reply: status, headers, and the body unless it went to a file.
  struct Reply: Sendable {
    var status: Int
    var headers: HTTPHeaders
    var body: [UInt8]
    /// Body bytes written to the file, when the request had one.
    var written: Int
    var text: String { String(decoding: body, as: UTF8.self) }
  }

  // MARK: Objects

  /// The size of object `key`, or nil when there is none.
  func size(of key: String) throws -> Int? {
    let reply = try send("HEAD", key: key, operation: "look up \(key)", accept: [200, 404])
    guard reply.status == 200 else { return nil }
    return reply.headers.first(name: "content-length").flatMap(Int.init)
  }

  /// The bytes of a small object, or nil when there is none.
  func data(of key: String) throws -> [UInt8]? {
    let reply = try send("GET", key: key, operation: "read \(key)", accept: [200, 404])
    if reply.status == 404 {
      // A missing bucket also answers 404: that one is an error, not a miss.
      if S3Error.code(in: reply.text) == "NoSuchBucket" {
        throw S3Error(location: location, operation: "read \(key)", status: 404, body: reply.text)
      }
      return nil
    }
    return reply.body
  }

  func put(_ bytes: [UInt8], as key: String) throws {
    _ = try send("PUT", key: key, body: ByteBuffer(bytes: bytes), payloadHash: Digest.of(bytes).hex, operation: "write \(key)")
  }

  /// Downloads object `key` (of `size` bytes) into a new file at `path`, in parallel ranges when
  /// large.
  func download(_ key: String, size: Int, to path: String, progress: @escaping @Sendable (Int) -> Void) throws {
    let file = try Pipeline.FileDescriptor.open(path, .createExclusive)
    defer { file.close() }
    let whole = size <= 2 * partBytes
    let ranges = whole ? [0..<size] : stride(from: 0, to: size, by: partBytes).map { $0..<min($0 + partBytes, size) }
    try inParallel(ranges, operation: "download \(key)") { range in
      let headers = whole ? [:] : ["range": "bytes=\(range.lowerBound)-\(range.upperBound - 1)"]
      return request("GET", key: key, headers: headers, sink: .file(file, at: range.lowerBound), bytes: range.count)
    } check: { range, reply in
      guard reply.status == (whole ? 200 : 206) else {
        throw S3Error(location: location, operation: "download \(key)", status: reply.status, body: reply.text)
      }
      guard reply.written == range.count else {
        throw S3Error(location: location, operation: "download \(key)", status: 0, body: "", detail: "the reply was cut short")
      }
      progress(range.count)
    }
    try file.sync()
  }

  /// Uploads the file at `path` as object `key`: one request when small, else a multipart upload
  /// whose parts go up in parallel (aborted on failure, so no half object is ever visible).
  func upload(_ path: String, as key: String, progress: @escaping @Sendable (Int) -> Void) throws {
    let file = try Pipeline.FileDescriptor.open(path, .read)
    defer { file.close() }
    let size = try file.size()
    guard size > 2 * partBytes else {
      _ = try send(
        "PUT", key: key, body: try Self.read(file, 0..<size), payloadHash: SigV4.unsignedPayload, operation: "upload \(key)")
      progress(size)
      return
    }
    let created = try send("POST", key: key, query: [("uploads", "")], operation: "start uploading \(key)")
    guard let uploadID = S3Error.value("UploadId", in: created.text) else {
      throw S3Error(location: location, operation: "start uploading \(key)", status: created.status, body: created.text)
    }
    let ranges = stride(from: 0, to: size, by: partBytes).map { $0..<min($0 + partBytes, size) }
    let tags = Mutex([Int: String]())
    do {
      try inParallel(Array(ranges.indices), operation: "upload \(key)") { n in
        let body = try Self.read(file, ranges[n])
        return request(
          "PUT", key: key, query: [("partNumber", String(n + 1)), ("uploadId", uploadID)], body: body,
          payloadHash: SigV4.unsignedPayload, bytes: ranges[n].count)
      } check: { n, reply in
        guard reply.status == 200, let etag = reply.headers.first(name: "etag") else {
          throw S3Error(location: location, operation: "upload part \(n + 1) of \(key)", status: reply.status, body: reply.text)
        }
        tags.withLock { $0[n] = etag }
        progress(ranges[n].count)
      }
      let etags = tags.withLock { $0 }
      let parts = ranges.indices.map { "<Part><PartNumber>\($0 + 1)</PartNumber><ETag>\(etags[$0]!)</ETag></Part>" }
      let body = Array("<CompleteMultipartUpload>\(parts.joined())</CompleteMultipartUpload>".utf8)
      let done = try send(
        "POST", key: key, query: [("uploadId", uploadID)], body: ByteBuffer(bytes: body), payloadHash: Digest.of(body).hex,
        operation: "finish uploading \(key)")
      // The call can fail after a 200 status: the error is in the body.
      if S3Error.code(in: done.text) != nil {
        throw S3Error(location: location, operation: "finish uploading \(key)", status: done.status, body: done.text)
      }
    } catch {
      _ = try? send(
        "DELETE", key: key, query: [("uploadId", uploadID)], operation: "abort uploading \(key)", accept: [200, 204, 404],
        attempts: 1)
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

  /// Sends a signed request and waits for the reply, retried on transport failures and 5xx
  /// replies; a status outside `accept` is an `S3Error` naming the operation.
  func send(
    _ method: String, key: String?, query: [(String, String)] = [], body: ByteBuffer? = nil,
    payloadHash: String = SigV4.emptyPayload, operation: String, accept: Set<Int> = [200, 204], attempts: Int? = nil
  ) throws -> Reply {
    try retrying(operation, attempts: attempts ?? self.attempts) {
      let reply = try wait(
        request(method, key: key, query: query, body: body, payloadHash: payloadHash, bytes: body?.readableBytes ?? 0), operation)
      guard accept.contains(reply.status) else {
        throw S3Error(location: location, operation: operation, status: reply.status, body: reply.text)
      }
      return reply
    }
  }

  /// Runs one request per item, `parallelParts` at a time, each checked by `check`; an item that
  /// fails is retried on its own, and the first that still fails is thrown once its window is done.
  private func inParallel<Item>(
    _ items: [Item], operation: String, start: (Item) throws -> EventLoopFuture<Reply>, check: (Item, Reply) throws -> Void
  ) throws {
    for window in stride(from: 0, to: items.count, by: parallelParts).map({ items[$0..<min($0 + parallelParts, items.count)] }) {
      let started = try window.map { try start($0) }
      var failure: (any Error)?
      for (item, future) in zip(window, started) {
        do { try check(item, try wait(future, operation)) } catch {
          do { try retrying(operation, attempts: attempts - 1) { try check(item, try wait(try start(item), operation)) } } catch {
            failure = failure ?? error
          }
        }
      }
      if let failure { throw failure }
    }
  }

  /// Where a reply's body goes.
  enum Sink: Sendable {
    case memory
    /// A 2xx body is written to the file from `at`; other bodies (errors) are kept.
    case file(Pipeline.FileDescriptor, at: Int)
  }

  /// Starts a signed request; its deadline allows 15 s plus 4 MB/s for `bytes`.
  private func request(
    _ method: String, key: String?, query: [(String, String)] = [], headers: [String: String] = [:], body: ByteBuffer? = nil,
    payloadHash: String = SigV4.emptyPayload, sink: Sink = .memory, bytes: Int
  ) -> EventLoopFuture<Reply> {
    let (host, path) = location.address(key: key)
    let signed = signer.sign(
      method: method, path: path, query: query, headers: headers.merging(["host": host]) { a, _ in a }, payloadHash: payloadHash,
      date: Date())
    let queryText = query.map { $0.1.isEmpty ? SigV4.encode($0.0) : "\(SigV4.encode($0.0))=\(SigV4.encode($0.1))" }
      .joined(separator: "&")
    let url =
      "\(location.endpoint.scheme ?? "https")://\(host)\(SigV4.encode(path, keepSlashes: true))"
      + (queryText.isEmpty ? "" : "?" + queryText)
    let client = Self.http
    do {
      var request = try HTTPClient.Request(url: url, method: HTTPMethod(rawValue: method), body: body.map { .byteBuffer($0) })
      for (name, value) in headers.merging(signed, uniquingKeysWith: { a, _ in a }) { request.headers.add(name: name, value: value) }
      let deadline = NIODeadline.now() + .seconds(15) + .milliseconds(Int64(bytes / 4_000))
      return client.execute(request: request, delegate: ReplyReader(sink: sink), deadline: deadline).futureResult
    } catch {
      return client.eventLoopGroup.next().makeFailedFuture(error)
    }
  }

  /// One client for the process, never shut down: connections are kept alive across requests.
  /// It gives up on a connection at once; `retrying` decides about trying again.
  private static let http: HTTPClient = {
    var configuration = HTTPClient.Configuration()
    configuration.timeout.connect = .seconds(5)
    configuration.connectionPool.retryConnectionEstablishment = false
    return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
  }()

  private func wait(_ future: EventLoopFuture<Reply>, _ operation: String) throws -> Reply {
    do { return try future.wait() } catch let error as SystemError { throw error } catch {
      throw S3Error.transport(location, operation, error)
    }
  }

  /// Runs `body` up to `attempts` times, waiting 0.25 s, 0.5 s, 1 s… between, while it fails in a
  /// way another try may cure (no connection, a 5xx, a reply cut short).
  private func retrying<T>(_ operation: String, attempts: Int, _ body: () throws -> T) throws -> T {
    var attempt = 0
    while true {
      do { return try body() } catch let error as S3Error where error.isTransient && attempt + 1 < attempts {
        attempt += 1
        // Jittered, so two clients that collided do not collide again in step.
        Thread.sleep(forTimeInterval: 0.25 * Double(1 << (attempt - 1)) * Double.random(in: 0.5...1.5))
      }
    }
  }
}

/// Gathers a reply as it arrives on the client's event loop: status and headers, and the body,
/// kept in memory or, for a 2xx reply to a download, written straight to the file.
private final class ReplyReader: HTTPClientResponseDelegate {
  typealias Response = S3Client.Reply

  private let sink: S3Client.Sink
  private let reply = Mutex(S3Client.Reply(status: 0, headers: [:], body: [], written: 0))

  init(sink: S3Client.Sink) { self.sink = sink }

  func didReceiveHead(task: HTTPClient.Task<Response>, _ head: HTTPResponseHead) -> EventLoopFuture<Void> {
    reply.withLock {
      $0.status = Int(head.status.code)
      $0.headers = head.headers
    }
    return task.eventLoop.makeSucceededVoidFuture()
  }

  func didReceiveBodyPart(task: HTTPClient.Task<Response>, _ buffer: ByteBuffer) -> EventLoopFuture<Void> {
    do {
      try reply.withLock { r in
        if case .file(let file, let start) = sink, (200..<300).contains(r.status) {
          try buffer.withUnsafeReadableBytes { try file.writeAll($0, at: start + r.written) }
          r.written += buffer.readableBytes
        } else if r.body.count < 1 << 20 {
          r.body += buffer.readableBytesView
        }
      }
      return task.eventLoop.makeSucceededVoidFuture()
    } catch {
      return task.eventLoop.makeFailedFuture(error)
    }
  }

  func didFinishRequest(task: HTTPClient.Task<Response>) throws -> Response { reply.withLock { $0 } }
}
