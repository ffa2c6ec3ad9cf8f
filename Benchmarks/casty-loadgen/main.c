/*
 * casty-loadgen: many ICY listeners from few processes, for Benchmarks/bench.sh.
 *
 *   casty-loadgen --url http://HOST:PORT/PATH --clients N [options]    (load)
 *   casty-loadgen --url http://HOST:PORT/PATH --probe K [options]      (probes)
 *
 * Load mode forks P worker processes (default: one per 5000 listeners; one process may hold at
 * most 20,000 open files here), worker c binding its sockets to the loopback source address
 * 127.0.0.(2+c). Each worker runs one epoll loop over its non-blocking sockets. Every listener
 * sends `GET PATH HTTP/1.0` with `Icy-MetaData: 1`, parses the reply head and `icy-metaint`,
 * then reads continuously, counting audio bytes and metadata blocks (and checking that every
 * non-empty block starts with StreamTitle='). Listener i is started at i / rate seconds (the
 * ramp; --ramp-seconds 0: as fast as --max-pending allows). After the ramp (every listener has
 * its reply head or failed) and --settle seconds, the hold window of --hold seconds starts:
 * the parent reads the servers' CPU (utime+stime from /proc/PID/stat, --server-pid, repeatable)
 * over exactly that window, and every listener's audio rate is measured over it.
 *
 * Probe mode opens K listeners one after another (at most --probe-seconds in all), each until it
 * has 64 KiB of audio, and reports time to connect, reply head, first audio byte and 64 KiB.
 *
 * Output: one JSON object on stdout (times in milliseconds, rates in bytes per second of audio).
 * The loadgen reports its own CPU (all processes) so that it is never mistaken for a server's.
 * Every loop is bounded by a deadline; SIGINT/SIGTERM end the run early (the JSON says so).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define MAX_PROCS 16
#define MAX_SERVERS 4
#define HEAD_MAX 8192
#define RECV_SIZE 65536
#define KIB64 65536

/* Why a listener failed before its reply head, or was dropped after it. */
enum fail { F_NONE, F_SOCKET, F_CONNECT, F_SEND, F_RECV, F_EOF, F_STATUS, F_HEAD_LONG, F_HEAD_TIMEOUT,
            F_RAMP_TIMEOUT, F_NOT_STARTED, F_COUNT };
static const char *fail_names[F_COUNT] = {"none", "socket", "connect", "send", "recv", "eof", "status",
                                          "head too long", "head timeout", "ramp timeout", "not started"};

enum state { S_IDLE, S_CONNECTING, S_SENDING, S_HEAD, S_BODY, S_CLOSED };
enum mstate { M_AUDIO, M_LEN, M_META };

/* One listener's record, in memory shared with the parent. Times: seconds since the run's t0. */
struct rec {
    double t_start, t_conn, t_head, t_first, t_64k, t_end;
    double h_t1, h_t2, last_rx, max_gap;
    uint64_t h_b1, h_b2, audio, body, audio_at_hold, audio_at_end;
    uint32_t meta_blocks, meta_nonempty, meta_bad;
    int32_t metaint;
    uint8_t fail, dropped, alive_at_hold, alive_at_end, started;
};

/* Run-wide state shared by the parent and the workers. The parent moves every stage through
 * the phases; each worker acknowledges a phase by storing stage+1 in its slot. */
enum phase { P_RAMP, P_SETTLE, P_HOLD, P_HOLD_END, P_STOP };
struct shared {
    volatile int phase, stage;
    volatile long target;    /* listeners 0 ..< target are due in this stage */
    volatile long prev;      /* ... of which 0 ..< prev were opened in earlier stages */
    volatile double stage_t0;
    volatile int ramp_done[MAX_PROCS], hold_ack[MAX_PROCS], end_ack[MAX_PROCS], exited[MAX_PROCS];
    volatile double hold_t0[MAX_PROCS], hold_t1[MAX_PROCS];
    volatile double cpu_hold0[MAX_PROCS], cpu_hold1[MAX_PROCS];
};

/* A worker's private per-socket state. */
struct conn {
    int fd;
    uint8_t state, mstate, mhead_len;
    uint32_t mleft;
    size_t req_off;
    char *head;
    size_t head_len;
    char mhead[13];
};

static struct {
    char host[256], path[1024], url[1400];
    int port;
    long clients, probes, stages[16], probe_at;
    int n_stages;
    int procs;
    double ramp_seconds, rate, settle, hold, head_timeout, ramp_timeout, probe_seconds, probe_gap, nominal;
    long max_pending;
    int server_pids[MAX_SERVERS], n_servers;
    char *ready_file;
    char ref_host[256], ref_path[1024];
    int ref_port;
    int src_base;
} opt = {.port = 80, .ramp_seconds = 0, .settle = 2, .hold = 10, .head_timeout = 10, .ramp_timeout = 60,
         .probe_seconds = 10, .probe_gap = 0.02, .nominal = 16000, .max_pending = 256, .src_base = 2};

static struct timespec t0_ts;
static volatile sig_atomic_t stop_flag;
static char request[2048];
static size_t request_len;

static void on_signal(int sig) { (void)sig; stop_flag = 1; }

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0_ts.tv_sec) + (double)(t.tv_nsec - t0_ts.tv_nsec) / 1e9;
}

static void sleep_s(double s) {
    if (s <= 0) return;
    struct timespec t = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&t, NULL);
}

static double cpu_self(void) {
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return (double)r.ru_utime.tv_sec + r.ru_utime.tv_usec / 1e6 + r.ru_stime.tv_sec + r.ru_stime.tv_usec / 1e6;
}

static void die(const char *msg) {
    fprintf(stderr, "casty-loadgen: %s\n", msg);
    exit(2);
}

static void usage(int rc) {
    fprintf(rc ? stderr : stdout,
            "usage: casty-loadgen --url http://HOST:PORT/PATH (--clients N | --probe K) [options]\n"
            "load mode:\n"
            "  --clients N[,N2,...] listeners (0..200000); several counts are stages: the load grows\n"
            "                       to each in turn and each stage has its own settle and hold window\n"
            "  --procs P            worker processes (default: one per 5000 listeners, max %d);\n"
            "                       worker c binds to source address 127.0.0.(B+c), --src-base B (default 2)\n"
            "  --ramp-seconds R     start listener i at i*R/N s (default 0: as fast as --max-pending allows)\n"
            "  --rate R             start at most R listeners per second (instead of --ramp-seconds)\n"
            "  --max-pending K      listeners without a reply head at once, all workers (default 256)\n"
            "  --head-timeout S     give up on a reply head after S s (default 10)\n"
            "  --ramp-timeout S     end the ramp after S s, failing who is not connected (default 60)\n"
            "  --settle S           seconds between the ramp and the hold window (default 2)\n"
            "  --hold S             hold window in seconds (default 10)\n"
            "  --server-pid PID     a server process to measure over the hold window (repeatable, max %d)\n"
            "  --ready-file F       created when the hold window starts\n"
            "  --nominal-Bps R      the stream's nominal audio rate (default 16000 = 128 kbps)\n"
            "  --reference-url U    real time is the rate of one listener of U (the radio itself),\n"
            "                       read by the parent over each hold window (default: --nominal-Bps)\n"
            "  --probe-at N         after the hold of the stage with N listeners, run the probes\n"
            "                       (--probe K, --probe-seconds S) while that load keeps running\n"
            "probe mode:\n"
            "  --probe K            K listeners one after another, each until 64 KiB of audio\n"
            "  --probe-seconds S    at most S s for all probes (default 10)\n"
            "  --probe-gap S        pause between probes (default 0.02)\n"
            "Prints one JSON object on stdout; times in ms.\n",
            MAX_PROCS, MAX_SERVERS);
    exit(rc);
}

static void parse_url(const char *u) {
    if (strncmp(u, "http://", 7) != 0) die("--url must be http://HOST[:PORT]/PATH");
    snprintf(opt.url, sizeof opt.url, "%s", u);
    const char *h = u + 7, *slash = strchr(h, '/'), *colon = strchr(h, ':');
    size_t hl;
    if (colon && (!slash || colon < slash)) {
        hl = (size_t)(colon - h);
        opt.port = atoi(colon + 1);
    } else {
        hl = slash ? (size_t)(slash - h) : strlen(h);
    }
    if (hl == 0 || hl >= sizeof opt.host) die("bad host in --url");
    memcpy(opt.host, h, hl);
    opt.host[hl] = 0;
    snprintf(opt.path, sizeof opt.path, "%s", slash ? slash : "/");
    if (opt.port <= 0 || opt.port > 65535) die("bad port in --url");
}

static void parse_args(int argc, char **argv) {
    static struct option lo[] = {
        {"url", 1, 0, 'u'}, {"clients", 1, 0, 'n'}, {"procs", 1, 0, 'P'}, {"ramp-seconds", 1, 0, 'r'},
        {"max-pending", 1, 0, 'm'}, {"head-timeout", 1, 0, 'H'}, {"ramp-timeout", 1, 0, 'R'},
        {"settle", 1, 0, 's'}, {"hold", 1, 0, 'h'}, {"server-pid", 1, 0, 'p'}, {"ready-file", 1, 0, 'f'},
        {"nominal-Bps", 1, 0, 'N'}, {"probe", 1, 0, 'k'}, {"probe-seconds", 1, 0, 'S'},
        {"probe-gap", 1, 0, 'g'}, {"src-base", 1, 0, 'b'}, {"probe-at", 1, 0, 'A'}, {"rate", 1, 0, 'q'}, {"reference-url", 1, 0, 'x'}, {"help", 0, 0, '?'},
        {0, 0, 0, 0}};
    int c, have_url = 0;
    opt.clients = -1;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'u': parse_url(optarg); have_url = 1; break;
        case 'n': {
            char *p = optarg, *e;
            opt.clients = 0;
            while (*p) {
                long v = strtol(p, &e, 10);
                if (e == p || v < 0 || v > 200000 || opt.n_stages >= 16 || v < opt.clients)
                    die("--clients: up to 16 growing counts 0..200000, comma-separated");
                opt.stages[opt.n_stages++] = opt.clients = v;
                p = *e == ',' ? e + 1 : e;
                if (*e && *e != ',') die("--clients: bad list");
            }
            if (!opt.n_stages) die("--clients: empty");
            break;
        }
        case 'A': opt.probe_at = atol(optarg); break;
        case 'q': opt.rate = atof(optarg); break;
        case 'x': {
            /* parse with parse_url, keeping the main URL */
            char host[256], path[1024], url[1400];
            int port = opt.port;
            memcpy(host, opt.host, sizeof host); memcpy(path, opt.path, sizeof path); memcpy(url, opt.url, sizeof url);
            parse_url(optarg);
            memcpy(opt.ref_host, opt.host, sizeof host); memcpy(opt.ref_path, opt.path, sizeof path);
            opt.ref_port = opt.port;
            memcpy(opt.host, host, sizeof host); memcpy(opt.path, path, sizeof path); memcpy(opt.url, url, sizeof url);
            opt.port = port;
            break;
        }
        case 'P': opt.procs = atoi(optarg); break;
        case 'r': opt.ramp_seconds = atof(optarg); break;
        case 'm': opt.max_pending = atol(optarg); break;
        case 'H': opt.head_timeout = atof(optarg); break;
        case 'R': opt.ramp_timeout = atof(optarg); break;
        case 's': opt.settle = atof(optarg); break;
        case 'h': opt.hold = atof(optarg); break;
        case 'p':
            if (opt.n_servers >= MAX_SERVERS) die("too many --server-pid");
            opt.server_pids[opt.n_servers++] = atoi(optarg);
            break;
        case 'f': opt.ready_file = optarg; break;
        case 'N': opt.nominal = atof(optarg); break;
        case 'k': opt.probes = atol(optarg); break;
        case 'S': opt.probe_seconds = atof(optarg); break;
        case 'g': opt.probe_gap = atof(optarg); break;
        case 'b': opt.src_base = atoi(optarg); break;
        case '?': usage(strcmp(argv[optind - 1], "--help") == 0 ? 0 : 2); break;
        default: usage(2);
        }
    }
    if (optind < argc) usage(2);
    if (!have_url) usage(2);
    if (opt.clients < 0 && opt.probes <= 0) die("give --clients N or --probe K");
    if (opt.clients >= 0 && opt.probes > 0 && opt.probe_at <= 0) die("--probe with --clients needs --probe-at N");
    if (opt.clients > 200000 || opt.probes > 100000) die("--clients at most 200000, --probe at most 100000");
    if (opt.procs == 0) opt.procs = opt.clients > 0 ? (int)((opt.clients + 4999) / 5000) : 1;
    if (opt.procs < 1 || opt.procs > MAX_PROCS) die("--procs must be 1..16");
    if (opt.src_base < 1 || opt.src_base + opt.procs > 255) die("--src-base out of range");
    if (opt.max_pending < 1 || opt.hold <= 0 || opt.hold > 3600 || opt.settle < 0 || opt.head_timeout <= 0 ||
        opt.ramp_timeout <= 0 || opt.ramp_seconds < 0 || opt.rate < 0 || opt.probe_seconds <= 0 || opt.probe_gap < 0)
        die("bad numeric option (see --help)");
    request_len = (size_t)snprintf(request, sizeof request,
                                   "GET %s HTTP/1.0\r\nHost: %s:%d\r\nUser-Agent: casty-loadgen/1\r\n"
                                   "Accept: */*\r\nIcy-MetaData: 1\r\n\r\n",
                                   opt.path, opt.host, opt.port);
}

static struct sockaddr_in server_addr(void) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt.port)};
    if (inet_pton(AF_INET, opt.host, &a.sin_addr) != 1) {
        struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res;
        if (getaddrinfo(opt.host, NULL, &hints, &res) != 0) die("cannot resolve the --url host");
        a.sin_addr = ((struct sockaddr_in *)res->ai_addr)->sin_addr;
        freeaddrinfo(res);
    }
    return a;
}

static void raise_nofile(void) {
    struct rlimit r;
    if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
        r.rlim_cur = r.rlim_max;
        setrlimit(RLIMIT_NOFILE, &r);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* The listener state machine (shared by load and probe modes).                              */

static void add_audio(struct rec *r, uint64_t n, double now) {
    if (n == 0) return;
    if (r->audio == 0) r->t_first = now;
    r->audio += n;
    if (r->t_64k == 0 && r->audio >= KIB64) r->t_64k = now;
}

static void on_body(struct conn *c, struct rec *r, const uint8_t *p, size_t n, double now) {
    r->body += n;
    if (r->metaint <= 0) {
        add_audio(r, n, now);
        return;
    }
    size_t pos = 0;
    while (pos < n) {
        if (c->mstate == M_AUDIO) {
            size_t take = n - pos < c->mleft ? n - pos : c->mleft;
            add_audio(r, take, now);
            c->mleft -= (uint32_t)take;
            pos += take;
            if (c->mleft == 0) c->mstate = M_LEN;
        } else if (c->mstate == M_LEN) {
            uint32_t len = (uint32_t)p[pos++] * 16;
            r->meta_blocks++;
            if (len == 0) {
                c->mstate = M_AUDIO;
                c->mleft = (uint32_t)r->metaint;
            } else {
                c->mstate = M_META;
                c->mleft = len;
                c->mhead_len = 0;
            }
        } else {
            size_t take = n - pos < c->mleft ? n - pos : c->mleft;
            for (size_t i = 0; i < take && c->mhead_len < sizeof c->mhead; i++) c->mhead[c->mhead_len++] = (char)p[pos + i];
            c->mleft -= (uint32_t)take;
            pos += take;
            if (c->mleft == 0) {
                r->meta_nonempty++;
                if (c->mhead_len < 13 || memcmp(c->mhead, "StreamTitle='", 13) != 0) r->meta_bad++;
                c->mstate = M_AUDIO;
                c->mleft = (uint32_t)r->metaint;
            }
        }
    }
}

/* Parses the reply head once it is complete; returns -1 (keep reading), 0 (body), or a fail code. */
static int on_head(struct conn *c, struct rec *r, double now) {
    char *end = memmem(c->head, c->head_len, "\r\n\r\n", 4);
    if (!end) return c->head_len >= HEAD_MAX ? F_HEAD_LONG : -1;
    *end = 0;
    size_t hl = (size_t)(end - c->head) + 4;
    if (!((strncmp(c->head, "HTTP/1.", 7) == 0 && strncmp(c->head + 8, " 200", 4) == 0) ||
          strncmp(c->head, "ICY 200", 7) == 0))
        return F_STATUS;
    r->metaint = 0;
    for (char *line = strstr(c->head, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
        if (strncasecmp(line + 2, "icy-metaint:", 12) == 0) r->metaint = atoi(line + 14);
    }
    r->t_head = now;
    c->state = S_BODY;
    c->mstate = M_AUDIO;
    c->mleft = (uint32_t)r->metaint;
    size_t rest = c->head_len - hl;
    char *head = c->head;
    c->head = NULL;
    if (rest) on_body(c, r, (uint8_t *)head + hl, rest, now);
    free(head);
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Load mode: one worker.                                                                      */

struct worker {
    int id, ep;
    long first, count; /* listeners first, first+procs, ... (count of them) */
    struct rec *recs;
    struct conn *conns;
    long pending, max_pending, started, finished_head;
    struct sockaddr_in dst, src;
};

static struct rec *wrec(struct worker *w, long j) { return &w->recs[w->first + j * opt.procs]; }

static void wclose(struct worker *w, long j, int fail, double now) {
    struct conn *c = &w->conns[j];
    struct rec *r = wrec(w, j);
    if (c->state == S_CLOSED || c->state == S_IDLE) {
        if (c->state == S_IDLE && fail) { r->fail = (uint8_t)fail; c->state = S_CLOSED; }
        return;
    }
    if (c->state != S_BODY) {
        w->pending--;
        w->finished_head++;
        r->fail = (uint8_t)(fail ? fail : F_EOF);
    } else if (fail) {
        r->dropped = 1;
    }
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    free(c->head);
    c->head = NULL;
    c->state = S_CLOSED;
    r->t_end = now;
}

static void wopen(struct worker *w, long j, double now) {
    struct conn *c = &w->conns[j];
    struct rec *r = wrec(w, j);
    r->t_start = now;
    r->started = 1;
    r->last_rx = now;
    w->pending++;
    c->state = S_CONNECTING;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) { wclose(w, j, F_SOCKET, now); return; }
    int one = 1;
    setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    if (bind(c->fd, (struct sockaddr *)&w->src, sizeof w->src) != 0) { wclose(w, j, F_SOCKET, now); return; }
    if (connect(c->fd, (struct sockaddr *)&w->dst, sizeof w->dst) != 0 && errno != EINPROGRESS) {
        wclose(w, j, F_CONNECT, now);
        return;
    }
    c->req_off = 0;
    struct epoll_event ev = {.events = EPOLLOUT, .data.u64 = (uint64_t)j};
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) wclose(w, j, F_SOCKET, now);
}

static void wevent(struct worker *w, long j, uint32_t events, uint8_t *buf, int phase, double now) {
    struct conn *c = &w->conns[j];
    struct rec *r = wrec(w, j);
    if (c->state == S_CONNECTING) {
        int err = 0;
        socklen_t l = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
        if (err) { wclose(w, j, F_CONNECT, now); return; }
        r->t_conn = now;
        c->state = S_SENDING;
    }
    if (c->state == S_SENDING) {
        ssize_t n = send(c->fd, request + c->req_off, request_len - c->req_off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR) wclose(w, j, F_SEND, now);
            return;
        }
        c->req_off += (size_t)n;
        if (c->req_off == request_len) {
            c->state = S_HEAD;
            c->head = malloc(HEAD_MAX);
            c->head_len = 0;
            if (!c->head) { wclose(w, j, F_SOCKET, now); return; }
            struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)j};
            epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev);
        }
        return;
    }
    (void)events;
    for (int round = 0; round < 4; round++) { /* bounded: at most 4 reads per event */
        ssize_t n;
        if (c->state == S_HEAD) n = recv(c->fd, c->head + c->head_len, HEAD_MAX - c->head_len, 0);
        else n = recv(c->fd, buf, RECV_SIZE, 0);
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR) wclose(w, j, F_RECV, now);
            return;
        }
        if (n == 0) { wclose(w, j, F_EOF, now); return; }
        if (now - r->last_rx > r->max_gap && phase == 2) r->max_gap = now - r->last_rx;
        r->last_rx = now;
        if (c->state == S_HEAD) {
            c->head_len += (size_t)n;
            int rc = on_head(c, r, now);
            if (rc > 0) { wclose(w, j, rc, now); return; }
            if (rc == 0) { w->pending--; w->finished_head++; }
        } else {
            on_body(c, r, buf, (size_t)n, now);
            if (r->alive_at_hold && phase == 2) {
                if (r->h_t1 == 0) { r->h_t1 = now; r->h_b1 = r->audio; }
                else { r->h_t2 = now; r->h_b2 = r->audio; }
            }
        }
        if (n < RECV_SIZE) return;
    }
}

static void worker_run(struct worker *w, struct shared *sh) {
    static uint8_t buf[RECV_SIZE];
    struct epoll_event evs[1024];
    w->ep = epoll_create1(EPOLL_CLOEXEC);
    if (w->ep < 0) die("epoll_create1");
    long next = 0; /* listeners 0 ..< next of this worker have been opened */
    /* hard bound on the worker's life: every stage's ramp, settle and hold, plus slack */
    double deadline = opt.n_stages * (opt.ramp_timeout + opt.settle + opt.hold + opt.probe_seconds + 10) + 60;
    while (!stop_flag) {
        double now = now_s();
        if (now > deadline) break;
        int phase = sh->phase, stage = sh->stage;
        if (phase == P_STOP) break;
        if (phase == P_RAMP && sh->ramp_done[w->id] != stage + 1) {
            long target = sh->target;
            double t0 = sh->stage_t0;
            /* open who is due, within the pending window */
            while (next < w->count && w->pending < w->max_pending) {
                long global = w->first + next * opt.procs;
                if (global >= target) break;
                double rate = opt.rate > 0 ? opt.rate
                              : opt.ramp_seconds > 0 ? (double)(target - sh->prev) / opt.ramp_seconds : 0;
                if (rate > 0 && now < t0 + (double)(global - sh->prev) / rate) break;
                wopen(w, next, now);
                next++;
            }
            if (w->pending > 0) {
                for (long j = 0; j < next; j++) {
                    struct conn *c = &w->conns[j];
                    if (c->state >= S_CONNECTING && c->state <= S_HEAD && now - wrec(w, j)->t_start > opt.head_timeout)
                        wclose(w, j, F_HEAD_TIMEOUT, now);
                }
            }
            int all_opened = next >= w->count || w->first + next * opt.procs >= target;
            if (now > t0 + opt.ramp_timeout) {
                for (long j = 0; j < w->count && w->first + j * opt.procs < target; j++) {
                    struct conn *c = &w->conns[j];
                    if (c->state == S_IDLE) wclose(w, j, F_NOT_STARTED, now);
                    else if (c->state >= S_CONNECTING && c->state <= S_HEAD) wclose(w, j, F_RAMP_TIMEOUT, now);
                    if (j >= next) next = j + 1;
                }
                all_opened = 1;
            }
            if (all_opened && w->pending == 0) sh->ramp_done[w->id] = stage + 1;
        } else if (phase == P_HOLD && sh->hold_ack[w->id] != stage + 1) {
            for (long j = 0; j < next; j++) {
                struct rec *r = wrec(w, j);
                r->alive_at_hold = w->conns[j].state == S_BODY;
                r->audio_at_hold = r->audio;
                r->last_rx = now;
                r->max_gap = 0;
                r->h_t1 = r->h_t2 = 0;
            }
            sh->cpu_hold0[w->id] = cpu_self();
            sh->hold_t0[w->id] = now;
            sh->hold_ack[w->id] = stage + 1;
        } else if (phase == P_HOLD_END && sh->end_ack[w->id] != stage + 1) {
            for (long j = 0; j < next; j++) {
                struct rec *r = wrec(w, j);
                r->audio_at_end = r->audio;
                r->alive_at_end = w->conns[j].state == S_BODY;
                if (r->alive_at_hold && r->alive_at_end && now - r->last_rx > r->max_gap) r->max_gap = now - r->last_rx;
            }
            sh->cpu_hold1[w->id] = cpu_self();
            sh->hold_t1[w->id] = now;
            sh->end_ack[w->id] = stage + 1;
        }
        if (phase == P_RAMP) {
            int n = epoll_wait(w->ep, evs, 1024, 2);
            now = now_s();
            for (int i = 0; i < n; i++) wevent(w, (long)evs[i].data.u64, evs[i].events, buf, phase, now);
        } else {
            /* Outside the ramp, read every socket at most 20 times a second: whatever arrived
             * meanwhile is one recv, however small the server's writes (Icecast writes a few KB
             * at a time, Casty whole segments), so the load generator's cost does not depend on
             * the server's write size. Receive times are then exact to 50 ms: 0.3 % of a 15 s
             * hold window. */
            sleep_s(0.05);
            for (int k = 0; k < 64; k++) {
                int n = epoll_wait(w->ep, evs, 1024, 0);
                now = now_s();
                for (int i = 0; i < n; i++) wevent(w, (long)evs[i].data.u64, evs[i].events, buf, phase, now);
                if (n < 1024) break;
            }
        }
    }
    for (long j = 0; j < w->count; j++) {
        struct conn *c = &w->conns[j];
        if (c->fd >= 0) close(c->fd);
    }
    sh->exited[w->id] = 1;
}

/* ---------------------------------------------------------------------------------------- */
/* Statistics and JSON.                                                                        */

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array (q in 0..1). */
static double pct(const double *v, long n, double q) {
    if (n <= 0) return NAN;
    long i = (long)ceil(q * (double)n) - 1;
    if (i < 0) i = 0;
    if (i >= n) i = n - 1;
    return v[i];
}

static void jnum(const char *k, double v, int digits, int comma) {
    if (isnan(v)) printf("\"%s\":null", k);
    else printf("\"%s\":%.*f", k, digits, v);
    if (comma) putchar(',');
}

/* {"n":..,"min":..,"p1":..,"median":..,"p99":..,"max":..} of v (sorted in place), scaled. */
static void jdist(const char *k, double *v, long n, double scale, int digits) {
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    printf("\"%s\":{\"n\":%ld,", k, n);
    jnum("min", n ? v[0] * scale : NAN, digits, 1);
    jnum("p1", pct(v, n, 0.01) * scale, digits, 1);
    jnum("median", pct(v, n, 0.5) * scale, digits, 1);
    jnum("p99", pct(v, n, 0.99) * scale, digits, 1);
    jnum("max", n ? v[n - 1] * scale : NAN, digits, 0);
    printf("}");
}

/* "fail_reasons":{"reason":count,...}, (the reasons that occurred), with a trailing comma. */
static void jfails(const long *fails) {
    printf("\"fail_reasons\":{");
    int first = 1;
    for (int f = 1; f < F_COUNT; f++)
        if (fails[f]) { printf("%s\"%s\":%ld", first ? "" : ",", fail_names[f], fails[f]); first = 0; }
    printf("},");
}

static int read_ticks(int pid, unsigned long long *ticks) {
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p) return -1;
    unsigned long long ut = 0, st = 0;
    /* after ") ": state(3) ... utime is field 14, stime 15 */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2) return -1;
    *ticks = ut + st;
    return 0;
}

static long read_status_kb(int pid, const char *key) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long v = -1;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, kl) == 0) { v = atol(line + kl); break; }
    }
    fclose(f);
    return v;
}

/* The reference listener: one plain (no Icy-MetaData) listener of the radio itself, read by the
 * parent. Its rate over the hold window, edge-corrected like the listeners', is "real time". */
struct reference {
    int fd;
    size_t head_len;
    int in_body;
    uint64_t bytes;
    double t1, t2;
    uint64_t b1, b2;
    char head[HEAD_MAX];
};

static void ref_open(struct reference *ref) {
    memset(ref, 0, sizeof *ref);
    ref->fd = -1;
    if (!opt.ref_port) return;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt.ref_port)};
    if (inet_pton(AF_INET, opt.ref_host, &a.sin_addr) != 1) return;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return;
    struct timeval tv = {.tv_sec = 2};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    char req[1400];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: %s:%d\r\nUser-Agent: casty-loadgen/1 (reference)\r\n\r\n",
                     opt.ref_path, opt.ref_host, opt.ref_port);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0 || send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
        close(fd);
        return;
    }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    ref->fd = fd;
}

/* Reads the reference until `until` (or sleeps, without one); `measure`: count for the hold. */
static void ref_pump(struct reference *ref, double until, int measure) {
    static uint8_t buf[RECV_SIZE];
    while (!stop_flag) {
        double now = now_s();
        if (now >= until) return;
        if (ref->fd < 0) { sleep_s(until - now < 0.01 ? until - now : 0.01); continue; }
        struct pollfd p = {.fd = ref->fd, .events = POLLIN};
        int ms = (int)((until - now) * 1000) + 1;
        if (poll(&p, 1, ms > 10 ? 10 : ms) <= 0) continue;
        ssize_t n = recv(ref->fd, buf, sizeof buf, 0);
        now = now_s();
        if (n <= 0) {
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            close(ref->fd);
            ref->fd = -1;
            continue;
        }
        size_t body = (size_t)n;
        if (!ref->in_body) {
            size_t take = (size_t)n < HEAD_MAX - ref->head_len ? (size_t)n : HEAD_MAX - ref->head_len;
            memcpy(ref->head + ref->head_len, buf, take);
            ref->head_len += take;
            char *end = memmem(ref->head, ref->head_len, "\r\n\r\n", 4);
            if (!end) continue;
            size_t hl = (size_t)(end - ref->head) + 4;
            body = ref->head_len - hl;
            ref->in_body = 1;
        }
        ref->bytes += body;
        if (measure && body) {
            if (ref->t1 == 0) { ref->t1 = now; ref->b1 = ref->bytes; }
            else { ref->t2 = now; ref->b2 = ref->bytes; }
        }
    }
}

static double ref_rate(struct reference *ref) {
    return ref->t2 > ref->t1 ? (double)(ref->b2 - ref->b1) / (ref->t2 - ref->t1) : NAN;
}

/* Waits (bounded by `seconds`) until every live worker has stored stage+1 in `slot`. */
static int wait_workers(struct shared *sh, volatile int *slot, int procs, int stage, double seconds) {
    double end = now_s() + seconds;
    while (!stop_flag && now_s() < end) {
        int done = 1;
        for (int c = 0; c < procs; c++) done &= slot[c] == stage + 1 || sh->exited[c];
        if (done) return 1;
        sleep_s(0.005);
    }
    return 0;
}

static int run_probes_json(void);

/* Prints one stage's figures (listeners 0 ..< target; new ones: prev ..< target). */
static void print_stage(struct rec *recs, struct shared *sh, int procs, long prev, long target, double ramp_s,
                        double hold0, double hold1, const unsigned long long *tk0, const unsigned long long *tk1,
                        const int *tk_ok, const long *rss, const long *hwm, double real_time) {
    if (isnan(real_time) || real_time <= 0) real_time = opt.nominal;
    long n = target, nn = target - prev;
    double *conn = malloc(sizeof(double) * (size_t)(nn + 1)), *head = malloc(sizeof(double) * (size_t)(nn + 1)),
           *first = malloc(sizeof(double) * (size_t)(nn + 1)), *k64 = malloc(sizeof(double) * (size_t)(nn + 1)),
           *rate_v = malloc(sizeof(double) * (size_t)(n + 1)), *gap = malloc(sizeof(double) * (size_t)(n + 1));
    if (!conn || !head || !first || !k64 || !rate_v || !gap) die("out of memory");
    long nc = 0, nh = 0, nf = 0, nk = 0, nr = 0, ng = 0, connected = 0, dropped = 0, alive_hold = 0, alive_end = 0;
    long fails[F_COUNT] = {0}, head_1s = 0, first_1s = 0, below99 = 0, no_metaint = 0;
    uint64_t meta_blocks = 0, meta_nonempty = 0, meta_bad = 0, hold_audio = 0;
    for (long i = 0; i < n; i++) {
        struct rec *r = &recs[i];
        if (i >= prev) {
            if (r->t_conn > 0) conn[nc++] = r->t_conn - r->t_start;
            if (r->t_head > 0) {
                head[nh++] = r->t_head - r->t_start;
                if (r->t_head - r->t_start <= 1.0) head_1s++;
                if (r->metaint <= 0) no_metaint++;
            }
            if (r->t_first > 0) {
                first[nf++] = r->t_first - r->t_start;
                if (r->t_first - r->t_start <= 1.0) first_1s++;
            }
            if (r->t_64k > 0) k64[nk++] = r->t_64k - r->t_start;
            if (r->fail && r->t_head == 0) fails[r->fail]++;
        }
        if (r->t_head > 0) connected++;
        meta_blocks += r->meta_blocks;
        meta_nonempty += r->meta_nonempty;
        meta_bad += r->meta_bad;
        if (r->alive_at_end) alive_end++;
        if (!r->alive_at_hold) continue;
        alive_hold++;
        if (!r->alive_at_end) dropped++;
        int w = (int)(i % procs);
        double hw = sh->hold_t1[w] - sh->hold_t0[w];
        hold_audio += r->audio_at_end - r->audio_at_hold;
        double rt;
        /* Edge-corrected: from the first to the last receive inside the hold window (servers that
         * send whole 1 s segments would otherwise show +-1 segment per window). */
        if (r->h_t2 > 0 && r->h_t2 - r->h_t1 >= hw / 2) rt = (double)(r->h_b2 - r->h_b1) / (r->h_t2 - r->h_t1);
        else rt = hw > 0 ? (double)(r->audio_at_end - r->audio_at_hold) / hw : 0;
        if (!r->alive_at_end) rt = 0; /* a dropped listener did not get real time */
        rate_v[nr++] = rt;
        if (rt < 0.99 * real_time) below99++;
        gap[ng++] = r->max_gap;
    }
    printf("{\"clients\":%ld,\"new\":%ld,\"connected\":%ld,\"failed_new\":%ld,\"alive_at_hold\":%ld,"
           "\"alive_at_end\":%ld,\"dropped\":%ld,",
           n, nn, connected, nn - nh, alive_hold, alive_end, dropped);
    jfails(fails);
    jnum("ramp_s", ramp_s, 3, 1);
    jnum("hold_s", hold1 - hold0, 3, 1);
    printf("\"reply_within_1s\":%ld,\"audio_within_1s\":%ld,\"no_metaint\":%ld,", head_1s, first_1s, no_metaint);
    jdist("connect_ms", conn, nc, 1000, 2);
    putchar(',');
    jdist("head_ms", head, nh, 1000, 2);
    putchar(',');
    jdist("first_audio_ms", first, nf, 1000, 2);
    putchar(',');
    jdist("audio_64k_ms", k64, nk, 1000, 2);
    putchar(',');
    jdist("rate_Bps", rate_v, nr, 1, 1);
    printf(",\"below_99pct_realtime\":%ld,", below99);
    jnum("real_time_Bps", real_time, 1, 1);
    printf("\"real_time_from\":\"%s\",", opt.ref_port ? "reference" : "nominal");
    jdist("max_gap_ms", gap, ng, 1000, 1);
    printf(",\"hold_audio_bytes\":%llu,\"meta\":{\"blocks\":%llu,\"nonempty\":%llu,\"bad\":%llu},",
           (unsigned long long)hold_audio, (unsigned long long)meta_blocks, (unsigned long long)meta_nonempty,
           (unsigned long long)meta_bad);
    printf("\"servers\":[");
    long hz = sysconf(_SC_CLK_TCK);
    for (int s = 0; s < opt.n_servers; s++) {
        printf("%s{\"pid\":%d,", s ? "," : "", opt.server_pids[s]);
        if (tk_ok[s] && hold1 > hold0) {
            jnum("cpu_s_per_s", (double)(tk1[s] - tk0[s]) / (double)hz / (hold1 - hold0), 4, 1);
            printf("\"cpu_ticks\":%llu,\"rss_kb\":%ld,\"hwm_kb\":%ld}", tk1[s] - tk0[s], rss[s], hwm[s]);
        } else {
            printf("\"cpu_s_per_s\":null,\"alive\":false}");
        }
    }
    printf("],");
    double hold_cpu = 0, hold_wall = 0;
    for (int c = 0; c < procs; c++) {
        hold_cpu += sh->cpu_hold1[c] - sh->cpu_hold0[c];
        if (sh->hold_t1[c] - sh->hold_t0[c] > hold_wall) hold_wall = sh->hold_t1[c] - sh->hold_t0[c];
    }
    jnum("loadgen_hold_cpu_per_s", hold_wall > 0 ? hold_cpu / hold_wall : NAN, 4, 0);
    printf("}");
    free(conn); free(head); free(first); free(k64); free(rate_v); free(gap);
}

static int run_load(void) {
    long n = opt.clients;
    size_t recs_size = sizeof(struct rec) * (size_t)(n > 0 ? n : 1);
    struct rec *recs = mmap(NULL, recs_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    struct shared *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (recs == MAP_FAILED || sh == MAP_FAILED) die("mmap failed");
    memset(sh, 0, sizeof *sh);
    memset(recs, 0, recs_size);
    struct sockaddr_in dst = server_addr();
    pid_t pids[MAX_PROCS] = {0};
    int procs = opt.procs;
    sh->phase = P_SETTLE; /* workers wait until the first stage's ramp */
    sh->stage = -1;
    fflush(stdout);
    for (int c = 0; c < procs; c++) {
        pid_t pid = fork();
        if (pid < 0) { procs = c; break; }
        if (pid == 0) {
            struct worker w = {.id = c, .first = c, .recs = recs, .dst = dst};
            w.count = n > c ? (n - c + procs - 1) / procs : 0;
            w.max_pending = opt.max_pending / procs > 0 ? opt.max_pending / procs : 1;
            w.src = (struct sockaddr_in){.sin_family = AF_INET};
            w.src.sin_addr.s_addr = htonl((127u << 24) | (uint32_t)(opt.src_base + c));
            w.conns = calloc((size_t)(w.count > 0 ? w.count : 1), sizeof *w.conns);
            if (!w.conns) _exit(3);
            for (long j = 0; j < w.count; j++) w.conns[j].fd = -1;
            worker_run(&w, sh);
            _exit(0);
        }
        pids[c] = pid;
    }
    if (procs == 0) die("fork failed");

    printf("{\"mode\":\"load\",\"url\":\"%s\",\"procs\":%d,", opt.url, procs);
    jnum("ramp_seconds_target", opt.ramp_seconds, 3, 1);
    jnum("nominal_Bps", opt.nominal, 0, 1);
    printf("\"stages\":[");
    long prev = 0;
    int probed = 0, printed = 0;
    for (int st = 0; st < opt.n_stages && !stop_flag; st++) {
        long target = opt.stages[st];
        unsigned long long tk0[MAX_SERVERS] = {0}, tk1[MAX_SERVERS] = {0};
        int tk_ok[MAX_SERVERS] = {0};
        long rss[MAX_SERVERS] = {0}, hwm[MAX_SERVERS] = {0};
        /* the rate is per stage: the new listeners over --ramp-seconds */
        double t_ramp = now_s();
        sh->target = target;
        sh->prev = prev;
        sh->stage_t0 = t_ramp;
        sh->stage = st;
        sh->phase = P_RAMP;
        wait_workers(sh, sh->ramp_done, procs, st, opt.ramp_timeout + opt.head_timeout + 5);
        double ramp_s = now_s() - t_ramp;
        sh->phase = P_SETTLE;
        struct reference ref;
        ref_open(&ref); /* during the settle, so that the radio's burst is over before the hold */
        ref_pump(&ref, now_s() + opt.settle, 0);
        if (stop_flag) break;
        for (int s = 0; s < opt.n_servers; s++) tk_ok[s] = read_ticks(opt.server_pids[s], &tk0[s]) == 0;
        double hold0 = now_s();
        sh->phase = P_HOLD;
        wait_workers(sh, sh->hold_ack, procs, st, 5);
        if (opt.ready_file) {
            char path[1200];
            snprintf(path, sizeof path, "%s.%ld", opt.ready_file, target);
            FILE *f = fopen(path, "w");
            if (f) fclose(f);
        }
        ref_pump(&ref, hold0 + opt.hold, 1);
        if (ref.fd >= 0) close(ref.fd);
        double real_time = opt.ref_port ? ref_rate(&ref) : opt.nominal;
        double hold1 = now_s();
        for (int s = 0; s < opt.n_servers; s++) {
            tk_ok[s] = tk_ok[s] && read_ticks(opt.server_pids[s], &tk1[s]) == 0;
            rss[s] = read_status_kb(opt.server_pids[s], "VmRSS:");
            hwm[s] = read_status_kb(opt.server_pids[s], "VmHWM:");
        }
        sh->phase = P_HOLD_END;
        wait_workers(sh, sh->end_ack, procs, st, 5);
        printf("%s", printed++ ? "," : "");
        print_stage(recs, sh, procs, prev, target, ramp_s, hold0, hold1, tk0, tk1, tk_ok, rss, hwm, real_time);
        fflush(stdout);
        prev = target;
        if (opt.probes > 0 && opt.probe_at == target && !probed) {
            printf("],\"probe_under_load\":");
            run_probes_json();
            printf(",\"stages_after_probe\":[");
            probed = 1;
            printed = 0;
        }
    }
    int interrupted = stop_flag != 0;
    sh->phase = P_STOP;
    for (int c = 0; c < procs; c++) {
        int status;
        double t_end = now_s() + 10;
        while (waitpid(pids[c], &status, WNOHANG) == 0) {
            if (now_s() > t_end) { kill(pids[c], SIGKILL); waitpid(pids[c], &status, 0); break; }
            sleep_s(0.01);
        }
    }
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    double cpu_children = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
                          ru.ru_stime.tv_usec / 1e6;
    printf("],");
    jnum("loadgen_cpu_s", cpu_children + cpu_self(), 3, 1);
    jnum("loadgen_wall_s", now_s(), 3, 1);
    printf("\"interrupted\":%s}\n", interrupted ? "true" : "false");
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Probe mode.                                                                                 */

/* One listener until 64 KiB of audio (or 5 s). Returns 0 with its record filled, or a fail code. */
static int probe_one(struct sockaddr_in *dst, struct rec *r) {
    static uint8_t buf[RECV_SIZE];
    struct conn c = {.fd = -1};
    double start = now_s(), deadline = start + 5;
    memset(r, 0, sizeof *r);
    r->t_start = start;
    c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.fd < 0) return F_SOCKET;
    int rc = F_NONE;
    if (connect(c.fd, (struct sockaddr *)dst, sizeof *dst) != 0 && errno != EINPROGRESS) { rc = F_CONNECT; goto out; }
    c.state = S_CONNECTING;
    while (r->t_64k == 0) {
        double now = now_s();
        if (now > deadline || stop_flag) { rc = F_HEAD_TIMEOUT; break; }
        struct pollfd p = {.fd = c.fd, .events = c.state <= S_SENDING ? POLLOUT : POLLIN};
        int pr = poll(&p, 1, (int)((deadline - now) * 1000) + 1);
        if (pr <= 0) continue;
        now = now_s();
        if (c.state == S_CONNECTING) {
            int err = 0;
            socklen_t l = sizeof err;
            getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &l);
            if (err) { rc = F_CONNECT; break; }
            r->t_conn = now;
            c.state = S_SENDING;
        }
        if (c.state == S_SENDING) {
            ssize_t n = send(c.fd, request + c.req_off, request_len - c.req_off, MSG_NOSIGNAL);
            if (n < 0 && errno != EAGAIN) { rc = F_SEND; break; }
            if (n > 0) c.req_off += (size_t)n;
            if (c.req_off == request_len) {
                c.state = S_HEAD;
                c.head = malloc(HEAD_MAX);
                c.head_len = 0;
            }
            continue;
        }
        ssize_t n = c.state == S_HEAD ? recv(c.fd, c.head + c.head_len, HEAD_MAX - c.head_len, 0)
                                      : recv(c.fd, buf, RECV_SIZE, 0);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) continue;
            rc = F_RECV;
            break;
        }
        if (n == 0) { rc = F_EOF; break; }
        if (c.state == S_HEAD) {
            c.head_len += (size_t)n;
            int h = on_head(&c, r, now);
            if (h > 0) { rc = h; break; }
        } else {
            on_body(&c, r, buf, (size_t)n, now);
        }
    }
out:
    free(c.head);
    close(c.fd);
    return rc;
}

/* Runs the probes and prints their JSON object (no newline). */
static int run_probes_json(void) {
    struct sockaddr_in dst = server_addr();
    long k = opt.probes;
    double *conn = malloc(sizeof(double) * (size_t)k), *head = malloc(sizeof(double) * (size_t)k),
           *first = malloc(sizeof(double) * (size_t)k), *k64 = malloc(sizeof(double) * (size_t)k);
    if (!conn || !head || !first || !k64) die("out of memory");
    long done = 0, nfail = 0, fails[F_COUNT] = {0};
    double end = now_s() + opt.probe_seconds, cpu0 = cpu_self();
    for (long i = 0; i < k && now_s() < end && !stop_flag; i++) {
        struct rec r;
        int rc = probe_one(&dst, &r);
        if (rc) {
            fails[rc]++;
            nfail++;
        } else {
            conn[done] = r.t_conn - r.t_start;
            head[done] = r.t_head - r.t_start;
            first[done] = r.t_first - r.t_start;
            k64[done] = r.t_64k - r.t_start;
            done++;
        }
        sleep_s(opt.probe_gap);
    }
    printf("{\"mode\":\"probe\",\"url\":\"%s\",\"probes\":%ld,\"failed\":%ld,", opt.url, done, nfail);
    jfails(fails);
    jdist("connect_ms", conn, done, 1000, 3);
    putchar(',');
    jdist("head_ms", head, done, 1000, 3);
    putchar(',');
    jdist("first_audio_ms", first, done, 1000, 3);
    putchar(',');
    jdist("audio_64k_ms", k64, done, 1000, 3);
    putchar(',');
    jnum("loadgen_cpu_s", cpu_self() - cpu0, 3, 0);
    printf(",\"interrupted\":%s}", stop_flag ? "true" : "false");
    free(conn); free(head); free(first); free(k64);
    return 0;
}

int main(int argc, char **argv) {
    clock_gettime(CLOCK_MONOTONIC, &t0_ts);
    parse_args(argc, argv);
    raise_nofile();
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (opt.clients >= 0) return run_load();
    run_probes_json();
    putchar('\n');
    return 0;
}
