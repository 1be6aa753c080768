#ifndef HMPIPE_SPAWN_H
#define HMPIPE_SPAWN_H
#include <sys/types.h>

/* Starts `argv` (searched on PATH when it has no slash) in `cwd` with environment `envp`, its stdout
   and stderr on `out_fd` and `err_fd`, in a process group of its own, under a supervisor process:
   when hmpipe dies (even by SIGKILL) or stops it, the supervisor kills the command's whole group.
   Returns the supervisor's pid (its exit status is the command's: 128 + signal when killed), or
   -errno. Only async-signal-safe calls between fork and exec: the caller may have many threads.
   The calling thread must also be the one that waits: the supervisor follows its life. */
pid_t hmpipe_spawn_supervised(const char *const argv[], const char *const envp[], const char *cwd, int out_fd, int err_fd);

/* A pipe whose ends close on exec (no other program started meanwhile inherits them); 0 or -errno. */
int hmpipe_pipe(int fds[2]);

/* Asks the supervisor to kill the command's group and exit; 0 or -errno. */
int hmpipe_stop(pid_t supervisor);

/* Waits up to `timeout_ms` for `pid`: 1 and its wait status in *status when it ended, 0 while it
   runs, -errno on error. */
int hmpipe_wait(pid_t pid, int timeout_ms, int *status);
#endif
