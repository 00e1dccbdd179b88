/*
 * Load client of `make bench`: HTTP/1.1 keep-alive over loopback TCP, one
 * thread per connection, request bodies read from files beforehand, the
 * latency of every request recorded.
 *
 *   client -p PORT -m METHOD -u PATH -T CONTENT_TYPE [-H 127.0.0.1]
 *          [-n N] [-w W] [-s S] [-o LATENCY_FILE] [-e ERROR_PREFIX] CONN...
 *
 *   CONN      TOKEN_FILE:LIST_FILE, one per connection (thread). The token
 *             file holds a bearer token; the list file one body file per
 *             line, sent in order and again from the top when -n asks for
 *             more requests than there are lines.
 *   -n N      requests per connection (default: the lines of its list)
 *   -w W      the first W requests of each connection are a warm-up: sent
 *             before the timed part starts (all connections wait for each
 *             other), not counted
 *   -s S      start at line S of each list (0 = the first), so that a run can
 *             take up where a previous one stopped
 *   -o FILE   one line per timed request: conn seq status microseconds bytes
 *   -e PREFIX the body of the first non-200 answer of each connection is
 *             written to PREFIX<conn>.txt
 *
 * Prints one line of name=value pairs on stdout: requests, ok (status 200),
 * non200, errors (transport), wall_s (from the end of the warm-up to the
 * last answer), rps, min_ms, med_ms, p95_ms, max_ms, mean_ms, bytes_in, and
 * s<status>=count for every status other than 200.
 * Exit status: 0 when every request got an HTTP answer, 1 otherwise.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    char *data;
    size_t len;
} buf_t;

typedef struct {
    int status;
    long long us;
    size_t bytes;
} sample_t;

typedef struct {
    int id;
    const char *token_file;
    const char *list_file;
    buf_t *reqs;         /* pre-built requests, headers + body */
    int nreqs;
    int fd;
    sample_t *samples;   /* timed requests */
    int nsamples;
    int errors;
    int saved_error;
    long long t_end;
    char *rbuf;          /* response buffer */
    size_t rcap, rlen, rpos;
} conn_t;

static const char *opt_host = "127.0.0.1";
static int opt_port;
static const char *opt_method, *opt_path, *opt_ctype, *opt_out, *opt_err;
static int opt_n = -1, opt_w, opt_s;
static pthread_barrier_t barrier;
static long long t_start;

static void die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fputs("client: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);

    if (p == NULL) {
        die("out of memory");
    }
    return p;
}

static long long now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static buf_t read_file(const char *path)
{
    buf_t b = { NULL, 0 };
    size_t cap = 65536;
    FILE *f = fopen(path, "rb");

    if (f == NULL) {
        die("%s: %s", path, strerror(errno));
    }
    b.data = xmalloc(cap);
    for (;;) {
        size_t got;

        if (b.len == cap) {
            cap *= 2;
            b.data = realloc(b.data, cap);
            if (b.data == NULL) {
                die("out of memory");
            }
        }
        got = fread(b.data + b.len, 1, cap - b.len, f);
        if (got == 0) {
            break;
        }
        b.len += got;
    }
    if (ferror(f)) {
        die("%s: read error", path);
    }
    fclose(f);
    return b;
}

static char *trim(char *s)
{
    char *e;

    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') {
        s++;
    }
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n')) {
        *--e = '\0';
    }
    return s;
}

static void load_conn(conn_t *c)
{
    buf_t tok = read_file(c->token_file);
    buf_t list = read_file(c->list_file);
    char *token, *line, *save = NULL;
    int cap = 16;

    tok.data = realloc(tok.data, tok.len + 1);
    tok.data[tok.len] = '\0';
    token = trim(tok.data);
    if (*token == '\0') {
        die("%s: empty token", c->token_file);
    }
    list.data = realloc(list.data, list.len + 1);
    list.data[list.len] = '\0';
    c->reqs = xmalloc(sizeof(buf_t) * (size_t)cap);
    for (line = strtok_r(list.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        buf_t body;
        char head[4096];
        int hl;

        line = trim(line);
        if (*line == '\0' || *line == '#') {
            continue;
        }
        body = read_file(line);
        hl = snprintf(head, sizeof(head),
                      "%s %s HTTP/1.1\r\n"
                      "Host: %s:%d\r\n"
                      "Authorization: Bearer %s\r\n"
                      "Content-Type: %s\r\n"
                      "Accept: application/json\r\n"
                      "Content-Length: %zu\r\n"
                      "\r\n",
                      opt_method, opt_path, opt_host, opt_port, token, opt_ctype, body.len);
        if (hl < 0 || (size_t)hl >= sizeof(head)) {
            die("request head too long");
        }
        if (c->nreqs == cap) {
            cap *= 2;
            c->reqs = realloc(c->reqs, sizeof(buf_t) * (size_t)cap);
            if (c->reqs == NULL) {
                die("out of memory");
            }
        }
        c->reqs[c->nreqs].len = (size_t)hl + body.len;
        c->reqs[c->nreqs].data = xmalloc(c->reqs[c->nreqs].len);
        memcpy(c->reqs[c->nreqs].data, head, (size_t)hl);
        memcpy(c->reqs[c->nreqs].data + hl, body.data, body.len);
        c->nreqs++;
        free(body.data);
    }
    if (c->nreqs == 0) {
        die("%s lists no body file", c->list_file);
    }
    free(tok.data);
    free(list.data);
}

static int connect_to(void)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

    if (fd < 0) {
        return -1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)opt_port);
    if (inet_pton(AF_INET, opt_host, &sa.sin_addr) != 1) {
        die("bad address %s", opt_host);
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Makes at least `want` unread bytes available in c->rbuf; 0 on success,
 * -1 on error or EOF. */
static int fill(conn_t *c, size_t want)
{
    if (c->rpos > 0 && c->rpos == c->rlen) {
        c->rpos = c->rlen = 0;
    }
    while (c->rlen - c->rpos < want) {
        ssize_t r;

        if (c->rcap - c->rlen < 65536) {
            if (c->rpos > 0) {
                memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
                c->rlen -= c->rpos;
                c->rpos = 0;
            }
            if (c->rcap - c->rlen < 65536) {
                c->rcap = c->rcap * 2 + 65536;
                c->rbuf = realloc(c->rbuf, c->rcap);
                if (c->rbuf == NULL) {
                    die("out of memory");
                }
            }
        }
        r = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, 0);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return -1;
        }
        c->rlen += (size_t)r;
    }
    return 0;
}

/* The offset of the first "\r\n" at or after c->rpos + from, reading more
 * as needed; -1 on EOF. */
static long find_crlf(conn_t *c, size_t from)
{
    for (;;) {
        size_t i;

        for (i = c->rpos + from; i + 1 < c->rlen; i++) {
            if (c->rbuf[i] == '\r' && c->rbuf[i + 1] == '\n') {
                return (long)(i - c->rpos);
            }
        }
        from = c->rlen - c->rpos > 0 ? c->rlen - c->rpos - 1 : 0;
        if (fill(c, c->rlen - c->rpos + 1) != 0) {
            return -1;
        }
    }
}

/* Keeps the first non-200 body of the connection, for diagnosis. */
static void save_error(conn_t *c, int status, const char *body, size_t len)
{
    char path[4096];
    FILE *f;

    if (opt_err == NULL || c->saved_error) {
        return;
    }
    c->saved_error = 1;
    snprintf(path, sizeof(path), "%s%d.txt", opt_err, c->id);
    f = fopen(path, "w");
    if (f) {
        fprintf(f, "status %d\n", status);
        fwrite(body, 1, len, f);
        fputc('\n', f);
        fclose(f);
    }
}

/* Reads one response. Returns the status (>0) with *bytes the body length
 * and *close set when the server closes the connection; -1 when the
 * connection failed before a status line arrived, -2 on a broken answer. */
static int read_response(conn_t *c, size_t *bytes, int *close_after)
{
    long eol;
    int status = 0, chunked = 0, have_len = 0, got_line = 0;
    size_t clen = 0, body_len = 0;
    char *keep = NULL;

    *close_after = 0;
    *bytes = 0;
    for (;;) {
        char *line;
        size_t llen;

        eol = find_crlf(c, 0);
        if (eol < 0) {
            return got_line ? -2 : -1;
        }
        line = c->rbuf + c->rpos;
        llen = (size_t)eol;
        if (!got_line) {
            got_line = 1;
            if (llen < 12 || strncmp(line, "HTTP/1.", 7) != 0) {
                return -2;
            }
            status = atoi(line + 9);
            if (strncmp(line, "HTTP/1.0", 8) == 0) {
                *close_after = 1;
            }
        }
        else if (llen == 0) {
            c->rpos += 2;
            break;
        }
        else if (llen > 15 && strncasecmp(line, "content-length:", 15) == 0) {
            clen = (size_t)strtoull(line + 15, NULL, 10);
            have_len = 1;
        }
        else if (llen > 18 && strncasecmp(line, "transfer-encoding:", 18) == 0) {
            chunked = memmem(line, llen, "chunked", 7) != NULL;
        }
        else if (llen > 11 && strncasecmp(line, "connection:", 11) == 0) {
            if (memmem(line, llen, "close", 5) != NULL) {
                *close_after = 1;
            }
        }
        c->rpos += llen + 2;
    }

    if (chunked) {
        for (;;) {
            size_t n;

            eol = find_crlf(c, 0);
            if (eol < 0) {
                return -2;
            }
            n = (size_t)strtoull(c->rbuf + c->rpos, NULL, 16);
            c->rpos += (size_t)eol + 2;
            if (n == 0) {
                /* trailers, up to an empty line */
                for (;;) {
                    eol = find_crlf(c, 0);
                    if (eol < 0) {
                        return -2;
                    }
                    c->rpos += (size_t)eol + 2;
                    if (eol == 0) {
                        break;
                    }
                }
                break;
            }
            if (fill(c, n + 2) != 0) {
                return -2;
            }
            if (status != 200 && keep == NULL && opt_err) {
                keep = strndup(c->rbuf + c->rpos, n < 4096 ? n : 4096);
            }
            c->rpos += n + 2;
            body_len += n;
        }
    }
    else if (have_len) {
        if (fill(c, clen) != 0) {
            return -2;
        }
        if (status != 200) {
            save_error(c, status, c->rbuf + c->rpos, clen);
        }
        c->rpos += clen;
        body_len = clen;
    }
    else if (status >= 200 && status != 204 && status != 304) {
        /* no length: the body runs to the end of the connection */
        while (fill(c, c->rlen - c->rpos + 1) == 0) {
        }
        body_len = c->rlen - c->rpos;
        c->rpos = c->rlen;
        *close_after = 1;
    }
    if (keep) {
        save_error(c, status, keep, strlen(keep));
        free(keep);
    }
    *bytes = body_len;
    return status;
}

/* Sends request i and reads the answer, reconnecting once when a kept-alive
 * connection turns out to be closed. Returns the status or a negative
 * value on failure. */
static int exchange(conn_t *c, int i, size_t *bytes)
{
    const buf_t *req = &c->reqs[(opt_s + i) % c->nreqs];
    int attempt, status = -1, close_after = 0;

    for (attempt = 0; attempt < 2; attempt++) {
        int fresh = 0;

        if (c->fd < 0) {
            c->fd = connect_to();
            if (c->fd < 0) {
                return -1;
            }
            c->rpos = c->rlen = 0;
            fresh = 1;
        }
        if (send_all(c->fd, req->data, req->len) == 0) {
            status = read_response(c, bytes, &close_after);
        }
        else {
            status = -1;
        }
        if (status > 0) {
            break;
        }
        close(c->fd);
        c->fd = -1;
        if (fresh || status == -2) {
            break;   /* a new connection failed too, or a broken answer */
        }
    }
    if (status > 0 && close_after) {
        close(c->fd);
        c->fd = -1;
    }
    return status;
}

static void *run_conn(void *arg)
{
    conn_t *c = arg;
    int total = opt_n >= 0 ? opt_n : c->nreqs, i;

    c->samples = xmalloc(sizeof(sample_t) * (size_t)(total > 0 ? total : 1));
    /* Connected before the timed part: a request's time starts at its
     * first byte. */
    c->fd = connect_to();
    for (i = 0; i < opt_w; i++) {
        size_t bytes;
        int st = exchange(c, i, &bytes);

        if (st < 0) {
            c->errors++;
        }
    }
    pthread_barrier_wait(&barrier);
    for (i = 0; i < total; i++) {
        size_t bytes = 0;
        long long t0 = now_us();
        int st = exchange(c, opt_w + i, &bytes);
        long long t1 = now_us();

        if (st < 0) {
            c->errors++;
            continue;
        }
        c->samples[c->nsamples].status = st;
        c->samples[c->nsamples].us = t1 - t0;
        c->samples[c->nsamples].bytes = bytes;
        c->nsamples++;
    }
    c->t_end = now_us();
    if (c->fd >= 0) {
        close(c->fd);
    }
    return NULL;
}

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;

    return (x > y) - (x < y);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: client -p PORT -m METHOD -u PATH -T CONTENT_TYPE [-H ADDR] [-n N] [-w W] [-s S]\n"
            "              [-o LATENCY_FILE] [-e ERROR_PREFIX] TOKEN_FILE:LIST_FILE...\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int opt, nconn, i, j, ok = 0, non200 = 0, errors = 0, nlat = 0;
    int statuses[600] = { 0 };
    conn_t *conns;
    pthread_t *threads;
    long long *lat, t_last = 0, sum = 0;
    unsigned long long bytes_in = 0;
    double wall;
    FILE *out = NULL;

    while ((opt = getopt(argc, argv, "H:p:m:u:T:n:w:s:o:e:")) != -1) {
        switch (opt) {
        case 'H': opt_host = optarg; break;
        case 'p': opt_port = atoi(optarg); break;
        case 'm': opt_method = optarg; break;
        case 'u': opt_path = optarg; break;
        case 'T': opt_ctype = optarg; break;
        case 'n': opt_n = atoi(optarg); break;
        case 'w': opt_w = atoi(optarg); break;
        case 's': opt_s = atoi(optarg); break;
        case 'o': opt_out = optarg; break;
        case 'e': opt_err = optarg; break;
        default: usage();
        }
    }
    if (opt_port <= 0 || opt_port > 65535 || !opt_method || !opt_path || !opt_ctype
        || optind >= argc || opt_w < 0 || opt_s < 0) {
        usage();
    }
    signal(SIGPIPE, SIG_IGN);
    nconn = argc - optind;
    conns = calloc((size_t)nconn, sizeof(conn_t));
    threads = xmalloc(sizeof(pthread_t) * (size_t)nconn);
    if (conns == NULL) {
        die("out of memory");
    }
    for (i = 0; i < nconn; i++) {
        char *spec = argv[optind + i], *colon = strchr(spec, ':');

        if (colon == NULL) {
            usage();
        }
        *colon = '\0';
        conns[i].id = i;
        conns[i].token_file = spec;
        conns[i].list_file = colon + 1;
        load_conn(&conns[i]);
    }
    if (pthread_barrier_init(&barrier, NULL, (unsigned)nconn + 1) != 0) {
        die("pthread_barrier_init failed");
    }
    for (i = 0; i < nconn; i++) {
        if (pthread_create(&threads[i], NULL, run_conn, &conns[i]) != 0) {
            die("pthread_create failed");
        }
    }
    pthread_barrier_wait(&barrier);
    t_start = now_us();
    for (i = 0; i < nconn; i++) {
        pthread_join(threads[i], NULL);
    }

    if (opt_out) {
        out = fopen(opt_out, "w");
        if (out == NULL) {
            die("%s: %s", opt_out, strerror(errno));
        }
    }
    for (i = 0; i < nconn; i++) {
        nlat += conns[i].nsamples;
    }
    lat = xmalloc(sizeof(long long) * (size_t)(nlat ? nlat : 1));
    nlat = 0;
    for (i = 0; i < nconn; i++) {
        conn_t *c = &conns[i];

        errors += c->errors;
        if (c->t_end > t_last) {
            t_last = c->t_end;
        }
        for (j = 0; j < c->nsamples; j++) {
            sample_t *s = &c->samples[j];

            lat[nlat++] = s->us;
            sum += s->us;
            bytes_in += s->bytes;
            if (s->status == 200) {
                ok++;
            }
            else {
                non200++;
                if (s->status > 0 && s->status < 600) {
                    statuses[s->status]++;
                }
            }
            if (out) {
                fprintf(out, "%d %d %d %lld %zu\n", i, j, s->status, s->us, s->bytes);
            }
        }
    }
    if (out) {
        fclose(out);
    }
    qsort(lat, (size_t)nlat, sizeof(long long), cmp_ll);
    wall = (double)(t_last - t_start) / 1e6;
    printf("requests=%d ok=%d non200=%d errors=%d wall_s=%.3f rps=%.2f", nlat, ok, non200,
           errors, wall, wall > 0 ? nlat / wall : 0.0);
    if (nlat > 0) {
        double med = nlat % 2 ? (double)lat[nlat / 2]
                              : ((double)lat[nlat / 2 - 1] + (double)lat[nlat / 2]) / 2.0;
        int p95 = (int)((nlat * 95 + 99) / 100) - 1;   /* nearest rank */

        printf(" min_ms=%.2f med_ms=%.2f p95_ms=%.2f max_ms=%.2f mean_ms=%.2f",
               (double)lat[0] / 1e3, med / 1e3, (double)lat[p95 < 0 ? 0 : p95] / 1e3,
               (double)lat[nlat - 1] / 1e3, (double)sum / nlat / 1e3);
    }
    printf(" bytes_in=%llu", bytes_in);
    for (i = 0; i < 600; i++) {
        if (statuses[i]) {
            printf(" s%d=%d", i, statuses[i]);
        }
    }
    printf("\n");
    return errors ? 1 : 0;
}
