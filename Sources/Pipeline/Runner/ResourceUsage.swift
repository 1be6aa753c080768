/// Peak resident memory of this process, from Linux's /proc. Resetting the peak before a stage
/// makes the figure after it that stage's peak (or, with parallel stages, theirs together).
enum ResourceUsage {
  static func resetPeak() {
    guard let file = try? FileDescriptor.open("/proc/self/clear_refs", .writeExisting) else { return }
    try? file.writeAll(Array("5".utf8))
    file.close()
  }

  /// VmHWM in bytes, 0 where /proc is not there.
  static func peakBytes() -> Int {
    guard let bytes = try? FileSystem.readAll("/proc/self/status") else { return 0 }
    for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix("VmHWM:") {
      let kb = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
      return kb * 1024
    }
    return 0
  }
}
