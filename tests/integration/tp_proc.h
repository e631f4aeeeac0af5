/* Process helpers of the tests that run the `tp` command (demo_test,
 * join_stall_test): start it without a shell, read its output, find the
 * demo's role processes by name, wait with a timeout. Header-only; the
 * includer defines `tp` (path of the command) and `out` (a char array). */
#ifndef TP_TEST_TP_PROC_H
#define TP_TEST_TP_PROC_H

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Run `tp ARGS`, stdout into out[], return the exit status (-1 if abnormal). */
static int run(const char *args)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s %s", tp, args);
    FILE *f = popen(cmd, "r");
    if (f == NULL) return -1;
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = '\0';
    const int st = pclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The number after `key ` on the first line that starts with `line_prefix`. */
static double field(const char *line_prefix, const char *key)
{
    for (const char *l = out; l != NULL && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (strncmp(l, line_prefix, strlen(line_prefix)) != 0) continue;
        const char *eol = strchr(l, '\n');
        char pat[64];
        snprintf(pat, sizeof pat, " %s ", key);
        const char *k = strstr(l, pat);
        if (k == NULL || (eol != NULL && k > eol)) return -1;
        return strtod(k + strlen(pat), NULL);
    }
    return -1;
}

/* Start `tp ARGS...` (no shell: the pid is the demo's), stdout and stderr to
 * log_path. */
static pid_t spawn_tp(const char *log_path, const char *const *args)
{
    fflush(NULL);
    const pid_t pid = fork();
    if (pid == 0) {
        if (freopen(log_path, "w", stdout) == NULL) _exit(127);
        dup2(fileno(stdout), STDERR_FILENO);
        static char buf[16][512]; /* execv wants char *; copies of the arguments */
        char *argv[16] = {buf[0]};
        snprintf(buf[0], sizeof buf[0], "%s", tp);
        for (int i = 0; args[i] != NULL && i < 14; i++) {
            snprintf(buf[i + 1], sizeof buf[i + 1], "%s", args[i]);
            argv[i + 1] = buf[i + 1];
        }
        execv(tp, argv);
        _exit(127);
    }
    return pid;
}

/* Read a whole file into out[]. */
static void slurp(const char *path)
{
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (f == NULL) return;
    const size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = '\0';
    fclose(f);
}

/* A live (not zombie) process `pid` whose parent is `ppid` (0: any parent) and
 * whose name is `comm` (NULL: any). */
static int proc_matches(int pid, int ppid, const char *comm)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL) return 0;
    const size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* pid (comm) state ppid ...; comm may hold spaces or parentheses */
    const char *open = strchr(buf, '('), *close = strrchr(buf, ')');
    if (open == NULL || close == NULL || close < open) return 0;
    char state;
    int parent;
    if (sscanf(close + 1, " %c %d", &state, &parent) != 2 || state == 'Z' || state == 'X') return 0;
    if (ppid != 0 && parent != ppid) return 0;
    if (comm != NULL && ((size_t)(close - open - 1) != strlen(comm) || strncmp(open + 1, comm, strlen(comm)) != 0))
        return 0;
    return 1;
}

/* The child of `parent` named `comm`, waiting up to timeout_ms for it; 0 if none. */
static int find_child(int parent, const char *comm, int timeout_ms)
{
    for (int waited = 0;; waited += 20) {
        DIR *d = opendir("/proc");
        if (d == NULL) return 0;
        struct dirent *e;
        int found = 0;
        while (found == 0 && (e = readdir(d)) != NULL) {
            const int pid = atoi(e->d_name);
            if (pid > 0 && proc_matches(pid, parent, comm)) found = pid;
        }
        closedir(d);
        if (found != 0 || waited >= timeout_ms) return found;
        const struct timespec ms20 = {0, 20000000};
        nanosleep(&ms20, NULL);
    }
}

/* waitpid with a timeout; the status, or -1 (then the process is SIGKILLed). */
static int wait_exit(pid_t pid, int timeout_ms)
{
    for (int waited = 0; waited < timeout_ms; waited += 10) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) return st;
        const struct timespec ms10 = {0, 10000000};
        nanosleep(&ms10, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

#endif
