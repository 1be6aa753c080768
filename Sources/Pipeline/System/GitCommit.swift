import Foundation

/// The git commit a folder's checkout is at, read from the repository's files (no `git` needed):
/// the nearest `.git` above the folder (a directory, or a worktree's `gitdir:` file), its `HEAD`,
/// and the branch it names in `refs/` or `packed-refs`. Nil outside a repository or when a file
/// says something else.
public enum GitCommit {
  public static func of(_ folder: String) -> String? {
    var dir = FileSystem.absolute(folder)
    while true {
      let dotGit = dir + "/.git"
      if FileSystem.exists(dotGit) { return commit(gitDirectory: resolve(dotGit)) }
      let parent = FileSystem.dirname(of: dir)
      if parent == dir { return nil }
      dir = parent
    }
  }

  /// `.git` itself, or the folder a worktree's `.git` file points at.
  static func resolve(_ dotGit: String) -> String {
    guard let text = read(dotGit), text.hasPrefix("gitdir: ") else { return dotGit }
    let path = String(text.dropFirst(8))
    return path.hasPrefix("/") ? path : FileSystem.dirname(of: dotGit) + "/" + path
  }

  static func commit(gitDirectory git: String) -> String? {
    guard let head = read(git + "/HEAD") else { return nil }
    guard head.hasPrefix("ref: ") else { return isHash(head) ? head : nil }
    let ref = String(head.dropFirst(5))
    // A worktree keeps its HEAD but shares the main repository's refs.
    let common = read(git + "/commondir").map { $0.hasPrefix("/") ? $0 : git + "/" + $0 } ?? git
    for root in [git, common] {
      if let hash = read(root + "/" + ref), isHash(hash) { return hash }
      for line in (read(root + "/packed-refs") ?? "").split(separator: "\n") where line.hasSuffix(" " + ref) {
        let hash = String(line.prefix { $0 != " " })
        if isHash(hash) { return hash }
      }
    }
    return nil
  }

  static func read(_ path: String) -> String? {
    guard let bytes = try? FileSystem.readAll(path) else { return nil }
    return String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
  }

  static func isHash(_ text: String) -> Bool { (text.count == 40 || text.count == 64) && text.allSatisfy(\.isHexDigit) }
}
