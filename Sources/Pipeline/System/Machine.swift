/// What a run record says about the machine: its cores and CPU model (from Linux's /proc).
public enum Machine {
  public static var facts: [String: String] {
    ["cores": String(Parallel.coreCount), "cpu": cpuModel ?? "unknown"]
  }

  /// The first "model name" line of /proc/cpuinfo.
  static var cpuModel: String? {
    guard let bytes = try? FileSystem.readAll("/proc/cpuinfo") else { return nil }
    for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix("model name") {
      return line.split(separator: ":", maxSplits: 1).last.map { String($0.drop { $0 == " " || $0 == "\t" }) }
    }
    return nil
  }
}
