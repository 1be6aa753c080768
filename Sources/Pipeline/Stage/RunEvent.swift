/// What the runner reports as it goes; the command line turns these into progress bars and lines.
/// The library never prints.
public enum RunEvent: Sendable {
  case waitingForLock(holder: StoreLock.Holder?)
  case clearedStaleLock(holder: StoreLock.Holder)
  case removedTemporaryFiles(count: Int)
  case stageStarted(stage: String, reason: String)
  case stageProgress(stage: String, fraction: Double, detail: String)
  case stageMessage(stage: String, message: String)
  case stageFinished(RunRecord.StageRecord)
  case recovered(stage: String, message: String)
  /// What the remote cache did or could not do (uploads finished, a failure worked around).
  case remote(message: String)
}
