import Glibc

/// Starting this program again with one more environment variable.
public enum SelfExec {
  /// Sets `name` to `value` and replaces this process with a fresh run of the same executable and
  /// arguments. Returns only if that fails (the caller then goes on as it is).
  public static func restart(setting name: String, to value: String) {
    setenv(name, value, 1)
    let arguments = CommandLine.arguments.map { strdup($0) } + [nil]
    execv("/proc/self/exe", arguments)
  }
}
