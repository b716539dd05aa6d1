/* A tiny init for checkpointable workers and for placeholders (docs/agent.md,
 * "CRIU on a real node").
 *
 *   worker-init [--min-pid N] -- CMD [ARG...]
 *     As a container's PID 1: uses up PIDs until the next one is at least N (default
 *     1000), starts CMD in its own session (setsid), forwards SIGUSR1, SIGUSR2, SIGTERM,
 *     SIGINT, SIGHUP and SIGQUIT to it, reaps every child, and exits with CMD's status
 *     once CMD has exited. CRIU restores a worker only if it is not PID 1, and its PIDs
 *     must be free in the placeholder; starting at 1000 keeps them clear of the
 *     placeholder's own few.
 *
 *   sleep infinity   (this binary installed as sleep, running as PID 1)
 *     A reaping placeholder: waits for a restored tree to be put under it, reaps what
 *     ends, exits on SIGTERM/SIGINT. Any other sleep is busybox's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile pid_t child = -1;

static void forward(int sig) {
  if (child > 0) kill(child, sig);
}

static void stop(int sig) {
  (void)sig;
  _exit(0);
}

static void on_child(int sig) { (void)sig; }

static _Noreturn void reap_forever(void) {
  sigset_t chld, none;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigemptyset(&none);
  sigprocmask(SIG_BLOCK, &chld, NULL);
  signal(SIGINT, stop);
  signal(SIGTERM, stop);
  signal(SIGCHLD, on_child);
  for (;;) {
    while (waitpid(-1, NULL, WNOHANG) > 0) {}
    sigsuspend(&none);
  }
}

/* Fork short-lived children until the kernel hands out PIDs >= min. */
static void burn_pids(long min) {
  for (int i = 0; i < 40000; i++) {
    pid_t p = fork();
    if (p < 0) return;
    if (p == 0) _exit(0);
    waitpid(p, NULL, 0);
    if (p >= min - 1) return;
  }
}

int main(int argc, char **argv) {
  const char *base = strrchr(argv[0], '/');
  base = base ? base + 1 : argv[0];
  if (strcmp(base, "sleep") == 0) {
    if (getpid() == 1 && argc == 2 && strcmp(argv[1], "infinity") == 0) reap_forever();
    argv[0] = "sleep";
    execv("/bin/busybox", argv);
    perror("worker-init: exec /bin/busybox sleep");
    return 127;
  }
  long min = 1000;
  int i = 1;
  for (; i < argc; i++) {
    if (strcmp(argv[i], "--min-pid") == 0 && i + 1 < argc) min = strtol(argv[++i], NULL, 10);
    else if (strcmp(argv[i], "--") == 0) { i++; break; }
    else break;
  }
  if (i >= argc) {
    fprintf(stderr, "usage: worker-init [--min-pid N] -- CMD [ARG...]\n");
    return 2;
  }
  burn_pids(min);
  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &old);
  child = fork();
  if (child < 0) {
    perror("worker-init: fork");
    return 126;
  }
  if (child == 0) {
    sigprocmask(SIG_SETMASK, &old, NULL);
    setsid();
    execvp(argv[i], argv + i);
    fprintf(stderr, "worker-init: exec %s: %s\n", argv[i], strerror(errno));
    _exit(127);
  }
  int sigs[] = {SIGUSR1, SIGUSR2, SIGTERM, SIGINT, SIGHUP, SIGQUIT};
  for (size_t k = 0; k < sizeof sigs / sizeof sigs[0]; k++) signal(sigs[k], forward);
  signal(SIGCHLD, on_child);
  sigprocmask(SIG_SETMASK, &old, NULL);
  for (;;) {
    int status;
    pid_t p = waitpid(-1, &status, 0);
    if (p < 0) {
      if (errno == EINTR) continue;
      return 0;
    }
    if (p == child) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
}
