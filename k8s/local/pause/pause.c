/*
 * The pod sandbox ("pause") container of the local cluster (scripts/cluster.sh), packed by
 * scripts/cluster-images.sh as registry.k8s.io/pause:3.10, containerd's sandbox_image: there is
 * no registry to pull the upstream one from. It holds the pod's namespaces open and, as PID 1
 * of a pod that shares its process namespace, reaps orphans. Built with `gcc -static -Os`, so
 * the image is this one file.
 *
 * Signals are blocked outside sigsuspend(): one that arrives between the check of `stop` and
 * the wait cannot be lost.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_stop(int sig) {
  (void)sig;
  stop = 1;
}

static void on_child(int sig) { (void)sig; }

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "-v") == 0) {
    puts("pause (crm local cluster)");
    return 0;
  }
  if (getpid() != 1) {
    fprintf(stderr, "pause: warning: not PID 1\n");
  }
  sigset_t blocked, waiting;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGTERM);
  sigaddset(&blocked, SIGINT);
  sigaddset(&blocked, SIGCHLD);
  if (sigprocmask(SIG_BLOCK, &blocked, &waiting) != 0) {
    perror("pause: sigprocmask");
    return 1;
  }
  sigdelset(&waiting, SIGTERM);
  sigdelset(&waiting, SIGINT);
  sigdelset(&waiting, SIGCHLD);

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sigemptyset(&sa.sa_mask);
  sa.sa_handler = on_stop;
  if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0) {
    perror("pause: sigaction");
    return 1;
  }
  sa.sa_handler = on_child;
  sa.sa_flags = SA_NOCLDSTOP;
  if (sigaction(SIGCHLD, &sa, NULL) != 0) {
    perror("pause: sigaction");
    return 1;
  }

  while (!stop) {
    sigsuspend(&waiting);
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
  }
  return 0;
}
