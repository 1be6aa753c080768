/// A folder as a POSIX ustar archive that depends only on what the folder holds: entries in sorted
/// path order, no times, owners or permissions beyond "executable or not". A command stage's
/// `"folder"` output is stored so, and a downstream command stage receives the `.tar`.
enum TarArchive {
  struct ArchiveError: Error, Sendable, CustomStringConvertible {
    var message: String
    var description: String { message }
  }

  static func archive(folder: String) throws -> [UInt8] {
    var out: [UInt8] = []
    for relative in try entries(folder, "") {
      let path = folder + "/" + relative
      if FileSystem.isDirectory(path) {
        out += try header(relative + "/", size: 0, type: "5", executable: true)
      } else {
        let bytes = try FileSystem.readAll(path)
        out += try header(relative, size: bytes.count, type: "0", executable: FileSystem.isExecutable(path))
        out += bytes
        out += [UInt8](repeating: 0, count: (512 - bytes.count % 512) % 512)
      }
    }
    return out + [UInt8](repeating: 0, count: 1024)
  }

  /// Every file and folder below `folder`, depth first in sorted order; links are refused.
  static func entries(_ folder: String, _ prefix: String) throws -> [String] {
    var found: [String] = []
    for name in try FileSystem.list(folder + (prefix.isEmpty ? "" : "/" + prefix)).sorted() {
      let relative = prefix.isEmpty ? name : prefix + "/" + name
      let path = folder + "/" + relative
      if FileSystem.isSymbolicLink(path) {
        throw ArchiveError(message: "\(relative) is a symbolic link; a folder output may hold only files and folders")
      }
      found.append(relative)
      if FileSystem.isDirectory(path) { found += try entries(folder, relative) }
    }
    return found
  }

  static func header(_ name: String, size: Int, type: Character, executable: Bool) throws -> [UInt8] {
    var block = [UInt8](repeating: 0, count: 512)
    let bytes = Array(name.utf8)
    // Up to 100 bytes in `name`; longer paths split at a slash into `prefix` (155) and `name`.
    var (prefix, rest) = ([UInt8](), bytes)
    if bytes.count > 100 {
      guard let cut = bytes.indices.last(where: { bytes[$0] == UInt8(ascii: "/") && $0 <= 155 && bytes.count - $0 - 1 <= 100 }) else {
        throw ArchiveError(message: "\(name): the path is too long for a tar archive (at most 255 bytes, split at a folder)")
      }
      (prefix, rest) = (Array(bytes[..<cut]), Array(bytes[(cut + 1)...]))
    }
    func put(_ field: [UInt8], at offset: Int) { block.replaceSubrange(offset..<(offset + field.count), with: field) }
    func octal(_ value: Int, width: Int) -> [UInt8] {
      let digits = String(value, radix: 8)
      return Array((String(repeating: "0", count: max(width - 1 - digits.count, 0)) + digits).utf8) + [0]
    }
    put(rest, at: 0)
    put(octal(executable ? 0o755 : 0o644, width: 8), at: 100)
    put(octal(0, width: 8), at: 108)
    put(octal(0, width: 8), at: 116)
    put(octal(size, width: 12), at: 124)
    put(octal(0, width: 12), at: 136)
    put(Array(String(type).utf8), at: 156)
    put(Array("ustar".utf8) + [0] + Array("00".utf8), at: 257)
    put(prefix, at: 345)
    put(Array(repeating: UInt8(ascii: " "), count: 8), at: 148)
    let checksum = block.reduce(0) { $0 + Int($1) }
    put(octal(checksum, width: 7) + [UInt8(ascii: " ")], at: 148)
    return block
  }
}
