/*
 * The pod sandbox ("pause") process of the test cluster: it holds the pod's
 * namespaces open, reaps orphaned children (it is PID 1 of the pod when the
 * PID namespace is shared) and exits 0 on SIGINT/SIGTERM. Written for the
 * test environment (no registry is reachable, so no upstream pause image);
 * static, so the image needs no libc.
 */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void quit(int sig) { (void)sig; _exit(0); }

static void reap(int sig) {
    (void)sig;
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
}

int main(void) {
    struct sigaction stop = {.sa_handler = quit};
    struct sigaction child = {.sa_handler = reap, .sa_flags = SA_NOCLDSTOP};
    sigaction(SIGINT, &stop, NULL);
    sigaction(SIGTERM, &stop, NULL);
    sigaction(SIGCHLD, &child, NULL);
    for (;;) {
        pause();
    }
    return 1;
}
