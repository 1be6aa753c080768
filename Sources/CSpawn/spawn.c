#define _GNU_SOURCE
#include "hmpipe_spawn.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The supervisor is single-threaded (a fresh fork): plain statics are safe in its handler. */
static volatile pid_t command_group = 0;

static void kill_command_and_exit(int signal) {
  (void)signal;
  if (command_group > 0) kill(-command_group, SIGKILL);
  _exit(137);
}

static void run_command(const char *const argv[], const char *const envp[]) {
  setpgid(0, 0);
  struct sigaction standard;
  memset(&standard, 0, sizeof standard);
  standard.sa_handler = SIG_DFL;
  sigaction(SIGTERM, &standard, NULL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  execvpe(argv[0], (char *const *)argv, (char *const *)envp);
  const char message[] = "cannot start the command: ";
  const char *reason = strerror(errno);
  if (write(2, message, sizeof message - 1) < 0 || write(2, reason, strlen(reason)) < 0 || write(2, "\n", 1) < 0) {}
  _exit(127);
}

/* The supervisor: dies with hmpipe (SIGTERM on its death), and then takes the command's whole
   process group with it; when the command ends, whatever it left running in its group goes too. */
static void supervise(pid_t parent, const char *const argv[], const char *const envp[], const char *cwd, int out_fd, int err_fd) {
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  sigprocmask(SIG_BLOCK, &term, NULL);
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_handler = kill_command_and_exit;
  sigaction(SIGTERM, &action, NULL);
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() != parent) _exit(137);
  if (dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0) _exit(126);
  syscall(SYS_close_range, 3U, ~0U, 0U);
  if (cwd && chdir(cwd) != 0) _exit(126);
  pid_t child = fork();
  if (child < 0) _exit(126);
  if (child == 0) run_command(argv, envp);
  setpgid(child, child);
  command_group = child;
  /* Unblocked whatever the forking thread had blocked: this is how the supervisor hears of
     hmpipe's death and of a stop. */
  sigprocmask(SIG_UNBLOCK, &term, NULL);
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {}
  sigprocmask(SIG_BLOCK, &term, NULL);
  kill(-child, SIGKILL);
  _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}

pid_t hmpipe_spawn_supervised(const char *const argv[], const char *const envp[], const char *cwd, int out_fd, int err_fd) {
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) return -errno;
  if (pid == 0) supervise(parent, argv, envp, cwd, out_fd, err_fd);
  return pid;
}

int hmpipe_pipe(int fds[2]) { return pipe2(fds, O_CLOEXEC) == 0 ? 0 : -errno; }

int hmpipe_stop(pid_t supervisor) { return kill(supervisor, SIGTERM) == 0 ? 0 : -errno; }

int hmpipe_wait(pid_t pid, int timeout_ms, int *status) {
  struct timespec step = {0, 5 * 1000 * 1000};
  for (int waited = 0;; waited += 5) {
    pid_t done = waitpid(pid, status, WNOHANG);
    if (done == pid) return 1;
    if (done < 0 && errno != EINTR) return -errno;
    if (waited >= timeout_ms) return 0;
    nanosleep(&step, NULL);
  }
}
