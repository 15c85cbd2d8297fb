/* demo_proc.c — `cofab demo`'s child processes, signals, ports and temporary directory. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "cofab/error.h"
#include "cofab/util.h"
#include "demo_internal.h"

#define S_TMP_MAX 80        /* longest temp base: "ipc://DIR/embroidery.ctl" < 108 */
#define S_STOP_MS 4000      /* SIGTERM grace before SIGKILL */
#define S_TAIL_MAX (256 * 1024)

static const char *
s_signame(int sig)
{
    return sig == SIGINT ? "SIGINT (Ctrl-C)" : sig == SIGTERM ? "SIGTERM" : "SIGHUP";
}

int
demo_init(demo_t *d, int keep)
{
    memset(d, 0, sizeof *d);
    d->keep = keep;
    d->color = isatty(STDOUT_FILENO);
    d->t0_ns = util_mono_ns();
    ssize_t n = readlink("/proc/self/exe", d->exe, sizeof d->exe - 1);
    if (n <= 0 || (size_t) n >= sizeof d->exe - 1) {
        snprintf(d->why, sizeof d->why, "cannot find this program (/proc/self/exe): %s",
                 strerror(errno));
        return COFAB_EIO;
    }
    d->exe[n] = 0;
    sigemptyset(&d->sigs);
    sigaddset(&d->sigs, SIGINT);
    sigaddset(&d->sigs, SIGTERM);
    sigaddset(&d->sigs, SIGHUP);
    sigprocmask(SIG_BLOCK, &d->sigs, NULL);
    const char *base = getenv("TMPDIR");
    if (!base || base[0] != '/' || strlen(base) > S_TMP_MAX)
        base = "/tmp";
    if (util_make_temp_dir(base, "cofab-demo", d->dir, sizeof d->dir) != 0) {
        snprintf(d->why, sizeof d->why, "cannot create a directory in %s: %s", base,
                 strerror(errno));
        return COFAB_EIO;
    }
    static const char *const subs[] = {"logs", "keys", "orders"};
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        char path[DEMO_PATH_MAX + 16];
        snprintf(path, sizeof path, "%s/%s", d->dir, subs[i]);
        if (mkdir(path, 0700) != 0) {
            snprintf(d->why, sizeof d->why, "cannot create %s: %s", path, strerror(errno));
            return COFAB_EIO;
        }
    }
    return 0;
}

double
demo_elapsed(const demo_t *d)
{
    return (double) (util_mono_ns() - d->t0_ns) / 1e9;
}

/* A signal that is pending (or arrives within ms), 0 if none. */
static int
s_signal(demo_t *d, int ms)
{
    struct timespec ts = {ms / 1000, (long) (ms % 1000) * 1000000L};
    int sig = sigtimedwait(&d->sigs, NULL, &ts);
    if (sig <= 0)
        return 0;
    d->interrupted = sig;
    snprintf(d->why, sizeof d->why, "interrupted by %s", s_signame(sig));
    d->culprit = NULL;
    return sig;
}

/* COFAB_ESTATE if a long-running child has exited on its own. */
static int
s_check_children(demo_t *d)
{
    demo_proc_t *all[DEMO_NFACTORIES + 1] = {&d->hub};
    for (int i = 0; i < DEMO_NFACTORIES; i++)
        all[i + 1] = &d->nodes[i];
    for (int i = 0; i <= DEMO_NFACTORIES; i++) {
        demo_proc_t *p = all[i];
        int st = 0;
        if (p->pid <= 0 || waitpid(p->pid, &st, WNOHANG) != p->pid)
            continue;
        p->pid = 0;
        if (WIFEXITED(st))
            snprintf(d->why, sizeof d->why, "%s%s exited on its own (exit status %d)",
                     i ? "factory node " : "the ", p->name, WEXITSTATUS(st));
        else
            snprintf(d->why, sizeof d->why, "%s%s died (signal %d)", i ? "factory node " : "the ",
                     p->name, WIFSIGNALED(st) ? WTERMSIG(st) : 0);
        d->culprit = p->log;
        return COFAB_ESTATE;
    }
    return 0;
}

int
demo_sleep(demo_t *d, int ms)
{
    if (s_signal(d, ms))
        return COFAB_ESTATE;
    return s_check_children(d);
}

/* In the child: descriptors, session, signals, directory, then exec. */
static void
s_child(const demo_t *d, int out, int err, const char *const *argv, pid_t parent, int session)
{
    if (session)
        setsid();
    if (parent > 0) {
        /* The demo's children must not outlive it, even if it is killed. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(127);
    }
    sigprocmask(SIG_UNBLOCK, &d->sigs, NULL);
    int in = open("/dev/null", O_RDONLY);
    if (in < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0 || chdir(d->dir) != 0)
        _exit(127);
    char *args[DEMO_MAX_ARGS + 2];
    int n = 0;
    args[n++] = (char *) "cofab"; /* what ps and pgrep show */
    for (int i = 0; argv[i] && n <= DEMO_MAX_ARGS; i++)
        args[n++] = (char *) argv[i];
    args[n] = NULL;
    execv(d->exe, args);
    _exit(127);
}

int
demo_start(demo_t *d, demo_proc_t *p, const char *const *argv)
{
    int fd = open(p->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(d->why, sizeof d->why, "cannot open %s: %s", p->log, strerror(errno));
        return COFAB_EIO;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0)
        s_child(d, fd, fd, argv, d->keep ? 0 : parent, 1);
    close(fd);
    if (pid < 0) {
        snprintf(d->why, sizeof d->why, "cannot start %s: %s", p->name, strerror(errno));
        return COFAB_EIO;
    }
    p->pid = pid;
    return 0;
}

/* Reads what is there into buf (keeping at most max - 1 bytes); 0 at EOF. */
static int
s_drain(int fd, char *buf, size_t max, size_t *used)
{
    char scratch[4096];
    ssize_t n = read(fd, scratch, sizeof scratch);
    if (n < 0)
        return errno == EINTR || errno == EAGAIN ? 1 : 0;
    size_t room = max - 1 - *used, take = (size_t) n < room ? (size_t) n : room;
    memcpy(buf + *used, scratch, take);
    *used += take;
    buf[*used] = 0;
    return n > 0;
}

/* Appends the command and what it printed to logs/commands.log. */
static void
s_log_command(const demo_t *d, const char *const *argv, int code)
{
    char path[DEMO_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/logs/commands.log", d->dir);
    FILE *f = fopen(path, "a");
    if (!f)
        return;
    fprintf(f, "$ cofab");
    for (int i = 0; argv[i]; i++)
        fprintf(f, " %s", argv[i]);
    fprintf(f, "\n%s%s(exit %d)\n", d->out, d->err, code);
    fclose(f);
}

/* A pipe whose ends other children do not inherit. */
static int
s_pipe(int fds[2])
{
    if (pipe(fds) != 0)
        return -1;
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    return 0;
}

int
demo_run(demo_t *d, const char *const *argv, int timeout_ms, int *code)
{
    int out[2] = {-1, -1}, err[2] = {-1, -1};
    d->out[0] = d->err[0] = 0;
    *code = -1;
    if (s_pipe(out) != 0 || s_pipe(err) != 0) {
        snprintf(d->why, sizeof d->why, "pipe: %s", strerror(errno));
        if (out[0] >= 0) {
            close(out[0]);
            close(out[1]);
        }
        return COFAB_EIO;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0)
        s_child(d, out[1], err[1], argv, parent, 0);
    close(out[1]);
    close(err[1]);
    if (pid < 0) {
        close(out[0]);
        close(err[0]);
        snprintf(d->why, sizeof d->why, "fork: %s", strerror(errno));
        return COFAB_EIO;
    }
    struct pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
    size_t nout = 0, nerr = 0;
    uint64_t deadline = util_mono_ns() + (uint64_t) timeout_ms * 1000000u;
    int rc = 0;
    while (fds[0].fd >= 0 || fds[1].fd >= 0) {
        if (poll(fds, 2, 50) > 0) {
            if (fds[0].revents && !s_drain(out[0], d->out, sizeof d->out, &nout))
                fds[0].fd = -1;
            if (fds[1].revents && !s_drain(err[0], d->err, sizeof d->err, &nerr))
                fds[1].fd = -1;
        }
        if (s_signal(d, 0)) {
            rc = COFAB_ESTATE;
            break;
        }
        if (util_mono_ns() > deadline) {
            snprintf(d->why, sizeof d->why, "`cofab %s %s` did not finish within %d s", argv[0],
                     argv[1] ? argv[1] : "", timeout_ms / 1000);
            rc = COFAB_ENET;
            break;
        }
    }
    if (rc != 0)
        kill(pid, SIGKILL);
    close(out[0]);
    close(err[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    *code = rc == 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    s_log_command(d, argv, *code);
    return rc;
}

/* Waits until every listed child has exited or timeout_ms passed; returns
 * how many are still running. */
static int
s_reap(demo_proc_t **ps, int n, int timeout_ms)
{
    uint64_t deadline = util_mono_ns() + (uint64_t) timeout_ms * 1000000u;
    for (;;) {
        int running = 0;
        for (int i = 0; i < n; i++) {
            int st;
            if (ps[i]->pid > 0 && waitpid(ps[i]->pid, &st, WNOHANG) == ps[i]->pid)
                ps[i]->pid = 0;
            running += ps[i]->pid > 0;
        }
        if (!running || util_mono_ns() > deadline)
            return running;
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* SIGTERM, a grace period, SIGKILL; every listed child is reaped. */
static void
s_stop(demo_proc_t **ps, int n, int sig, int timeout_ms)
{
    for (int i = 0; i < n; i++)
        if (ps[i]->pid > 0)
            kill(ps[i]->pid, sig);
    if (s_reap(ps, n, timeout_ms) == 0)
        return;
    for (int i = 0; i < n; i++) {
        if (ps[i]->pid > 0) {
            kill(ps[i]->pid, SIGKILL);
            while (waitpid(ps[i]->pid, NULL, 0) < 0 && errno == EINTR)
                ;
            ps[i]->pid = 0;
        }
    }
}

void
demo_kill(demo_t *d, demo_proc_t *p, int sig, int timeout_ms)
{
    (void) d;
    demo_proc_t *one[1] = {p};
    s_stop(one, 1, sig, timeout_ms);
}

void
demo_stop_all(demo_t *d)
{
    demo_proc_t *nodes[DEMO_NFACTORIES], *hub[1] = {&d->hub};
    for (int i = 0; i < DEMO_NFACTORIES; i++)
        nodes[i] = &d->nodes[i];
    /* Nodes first, so they do not spend their last moments reconnecting. */
    s_stop(nodes, DEMO_NFACTORIES, SIGTERM, S_STOP_MS);
    s_stop(hub, 1, SIGTERM, S_STOP_MS);
}


int
demo_remove_dir(const demo_t *d)
{
    if (!d->dir[0])
        return 0;
    return util_remove_tree(d->dir);
}

int
demo_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return COFAB_EIO;
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int port = COFAB_EIO;
    if (bind(fd, (struct sockaddr *) &a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *) &a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

/* The file's last S_TAIL_MAX bytes, NUL-terminated, or NULL. */
static char *
s_read_tail(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    off_t size = lseek(fd, 0, SEEK_END);
    off_t from = size > S_TAIL_MAX ? size - S_TAIL_MAX : 0;
    char *buf = malloc(S_TAIL_MAX + 1);
    ssize_t n = buf && size >= 0 ? pread(fd, buf, (size_t) (size - from), from) : -1;
    close(fd);
    if (n < 0) {
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    *len = (size_t) n;
    return buf;
}

void
demo_tail(const char *path, int lines)
{
    size_t len = 0;
    char *buf = s_read_tail(path, &len);
    if (!buf)
        return;
    size_t start = len;
    int seen = 0;
    while (start > 0) {
        if (buf[start - 1] == '\n' && start != len && ++seen == lines)
            break;
        start--;
    }
    fprintf(stderr, "    --- last lines of %s\n", path);
    for (char *line = buf + start, *next; *line; line = next) {
        next = strchr(line, '\n');
        next = next ? next + 1 : line + strlen(line);
        fprintf(stderr, "    | %.*s\n", (int) (next - line - (next[-1] == '\n')), line);
    }
    free(buf);
}

int
demo_grep(const char *path, const char *needle, char *line, size_t max)
{
    size_t len = 0;
    char *buf = s_read_tail(path, &len);
    int count = 0;
    for (char *p = buf, *next; p && *p; p = next) {
        next = strchr(p, '\n');
        size_t n = next ? (size_t) (next - p) : strlen(p);
        next = next ? next + 1 : p + n;
        char saved = p[n];
        p[n] = 0;
        if (strstr(p, needle)) {
            snprintf(line, max, "%s", p);
            count++;
        }
        p[n] = saved;
    }
    free(buf);
    return count;
}
