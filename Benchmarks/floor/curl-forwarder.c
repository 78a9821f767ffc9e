/*
 * The "libcurl floor" of the miss-path benchmarks: the smallest gateway that forwards over libcurl.
 *
 * One thread, one epoll loop, libcurl's multi interface driven by curl_multi_socket_action (the
 * shape UltraGate uses), upstream connections kept alive in the multi handle's pool. It reads an
 * HTTP/1.1 request with a Content-Length body, POSTs the body to UPSTREAM + the request's path and
 * answers with the upstream's body: buffered with a Content-Length, or, for text/event-stream,
 * passed on chunk by chunk as libcurl hands it over. No JSON, no cache, no validation, no metrics:
 * what any libcurl-based gateway pays on this machine before doing any work of its own.
 *
 *   cc -O2 -o curl-forwarder Benchmarks/floor/curl-forwarder.c -lcurl
 *   ./curl-forwarder PORT http://127.0.0.1:UPSTREAM_PORT
 *
 * A benchmark tool, not product code: it trusts its loopback clients (no pipelining, no chunked
 * request bodies, requests up to 1 MiB).
 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum kind { LISTENER, CLIENT, UPSTREAM_SOCKET };

typedef struct tag { enum kind kind; int fd; struct tag *next_dead; } tag;

typedef struct {
  tag tag;
  char *in; size_t in_len, in_cap;
  char *out; size_t out_len, out_off, out_cap;
  char *body; size_t body_len, body_cap;   /* buffered upstream answer */
  char *req; size_t req_cap;               /* the request body handed to libcurl */
  CURL *easy;
  int busy, streaming, head_sent, closing;
} client;

static int ep;
static CURLM *multi;
static const char *upstream;
static long long deadline_ms = -1;         /* libcurl's timer */
static struct curl_slist *request_headers;
static tag *dead;                          /* freed after the epoll batch that may still name them */

static void retire(tag *t) { t->fd = -1; t->next_dead = dead; dead = t; }

static long long now_ms(void) {
  struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void grow(char **buf, size_t *cap, size_t need) {
  if (need <= *cap) return;
  size_t c = *cap ? *cap : 4096;
  while (c < need) c *= 2;
  *buf = realloc(*buf, c); *cap = c;
}

static void append(client *c, const void *p, size_t n) {
  grow(&c->out, &c->out_cap, c->out_len + n);
  memcpy(c->out + c->out_len, p, n); c->out_len += n;
}

static void close_client(client *c) {
  if (c->busy) { curl_multi_remove_handle(multi, c->easy); c->busy = 0; }
  epoll_ctl(ep, EPOLL_CTL_DEL, c->tag.fd, NULL);
  close(c->tag.fd);
  if (c->easy) curl_easy_cleanup(c->easy);
  free(c->in); free(c->out); free(c->body); free(c->req);
  c->in = c->out = c->body = c->req = NULL; c->easy = NULL;
  retire(&c->tag);
}

/* Writes what is queued; returns -1 when the client is gone. */
static int flush(client *c) {
  while (c->out_off < c->out_len) {
    ssize_t n = send(c->tag.fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN) {
        struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = c };
        epoll_ctl(ep, EPOLL_CTL_MOD, c->tag.fd, &ev);
        return 0;
      }
      if (errno == EINTR) continue;
      return -1;
    }
    c->out_off += (size_t)n;
  }
  c->out_off = c->out_len = 0;
  return 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud) {
  client *c = ud; size_t len = size * n;
  if (len > 13 && strncasecmp(p, "content-type:", 13) == 0 && memmem(p, len, "text/event-stream", 17))
    c->streaming = 1;
  return len;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
  client *c = ud; size_t len = size * n;
  if (!c->streaming) {
    grow(&c->body, &c->body_cap, c->body_len + len);
    memcpy(c->body + c->body_len, p, len); c->body_len += len;
    return len;
  }
  if (!c->head_sent) {
    static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
    append(c, head, sizeof head - 1); c->head_sent = 1;
  }
  char size_line[32]; int k = snprintf(size_line, sizeof size_line, "%zx\r\n", len);
  append(c, size_line, (size_t)k); append(c, p, len); append(c, "\r\n", 2);
  if (flush(c) < 0) c->closing = 1;
  return len;
}

static void start_next(client *c);

static void finished(client *c, CURLcode result) {
  curl_multi_remove_handle(multi, c->easy); c->busy = 0;
  long status = 0; curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
  if (result != CURLE_OK) {
    static const char bad[] = "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n";
    if (!c->head_sent) append(c, bad, sizeof bad - 1); else c->closing = 1;
  } else if (c->streaming) {
    append(c, "0\r\n\r\n", 5);
  } else {
    char head[160];
    int k = snprintf(head, sizeof head, "HTTP/1.1 %ld OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                     status, c->body_len);
    append(c, head, (size_t)k); append(c, c->body, c->body_len);
  }
  if (c->closing || flush(c) < 0) { close_client(c); return; }
  start_next(c);
}

/* Starts the upstream call for a complete request at the front of `in`, if there is one. */
static void start_next(client *c) {
  if (c->busy || c->in_len == 0) return;
  char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
  if (!end) return;
  size_t head_len = (size_t)(end - c->in) + 4;
  long content_length = 0;
  for (char *line = memchr(c->in, '\n', head_len); line && line < end; line = memchr(line + 1, '\n', (size_t)(end - line))) {
    if (strncasecmp(line + 1, "content-length:", 15) == 0) content_length = strtol(line + 16, NULL, 10);
  }
  if (c->in_len < head_len + (size_t)content_length) return;
  char *sp1 = memchr(c->in, ' ', head_len), *sp2 = sp1 ? memchr(sp1 + 1, ' ', head_len) : NULL;
  if (!sp2) { close_client(c); return; }
  char url[1024];
  snprintf(url, sizeof url, "%s%.*s", upstream, (int)(sp2 - sp1 - 1), sp1 + 1);
  if (!c->easy) {
    c->easy = curl_easy_init();
    curl_easy_setopt(c->easy, CURLOPT_PRIVATE, c);
    curl_easy_setopt(c->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->easy, CURLOPT_PROXY, "");
    curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, request_headers);
    curl_easy_setopt(c->easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c->easy, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, c);
  }
  curl_easy_setopt(c->easy, CURLOPT_URL, url);
  curl_easy_setopt(c->easy, CURLOPT_POSTFIELDSIZE, content_length);
  grow(&c->req, &c->req_cap, (size_t)content_length + 1);
  memcpy(c->req, c->in + head_len, (size_t)content_length);
  curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, c->req);
  size_t used = head_len + (size_t)content_length;
  memmove(c->in, c->in + used, c->in_len - used); c->in_len -= used;
  c->body_len = 0; c->streaming = 0; c->head_sent = 0;
  c->busy = 1;
  curl_multi_add_handle(multi, c->easy);
}

static void drain_done(void) {
  CURLMsg *m; int left;
  while ((m = curl_multi_info_read(multi, &left))) {
    if (m->msg != CURLMSG_DONE) continue;
    client *c; curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&c);
    finished(c, m->data.result);
  }
}

static int on_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp) {
  (void)e; (void)userp;
  tag *t = socketp;
  if (what == CURL_POLL_REMOVE) {
    if (t) { epoll_ctl(ep, EPOLL_CTL_DEL, s, NULL); retire(t); curl_multi_assign(multi, s, NULL); }
    return 0;
  }
  struct epoll_event ev = { .events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0) };
  if (!t) {
    t = malloc(sizeof *t); t->kind = UPSTREAM_SOCKET; t->fd = s;
    curl_multi_assign(multi, s, t);
    ev.data.ptr = t; epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
  } else {
    ev.data.ptr = t; epoll_ctl(ep, EPOLL_CTL_MOD, s, &ev);
  }
  return 0;
}

static int on_timer(CURLM *m, long timeout_ms, void *userp) {
  (void)m; (void)userp;
  deadline_ms = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 3) { fprintf(stderr, "usage: %s PORT UPSTREAM_BASE_URL\n", argv[0]); return 2; }
  signal(SIGPIPE, SIG_IGN);
  upstream = argv[2];
  curl_global_init(CURL_GLOBAL_DEFAULT);
  multi = curl_multi_init();
  curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, on_timer);
  request_headers = curl_slist_append(NULL, "Content-Type: application/json");
  request_headers = curl_slist_append(request_headers, "Expect:");

  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (getenv("FLOOR_REUSEPORT")) setsockopt(lfd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1])), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  if (bind(lfd, (struct sockaddr *)&a, sizeof a) || listen(lfd, 1024)) { perror("listen"); return 1; }
  ep = epoll_create1(0);
  tag listener = { LISTENER, lfd, NULL };
  struct epoll_event lev = { .events = EPOLLIN, .data.ptr = &listener };
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);

  struct epoll_event evs[256];
  for (;;) {
    int timeout = -1;
    if (deadline_ms >= 0) { long long d = deadline_ms - now_ms(); timeout = d < 0 ? 0 : (int)d; }
    int n = epoll_wait(ep, evs, 256, timeout);
    if (n < 0 && errno != EINTR) { perror("epoll_wait"); return 1; }
    int running;
    if (deadline_ms >= 0 && now_ms() >= deadline_ms) {
      deadline_ms = -1;
      curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
      drain_done();
    }
    for (int i = 0; i < n; i++) {
      tag *t = evs[i].data.ptr;
      if (t->fd < 0) continue;
      if (t->kind == LISTENER) {
        int fd;
        while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          client *c = calloc(1, sizeof *c); c->tag.kind = CLIENT; c->tag.fd = fd;
          struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        }
      } else if (t->kind == UPSTREAM_SOCKET) {
        int flags = (evs[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) | (evs[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0)
                  | (evs[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
        curl_multi_socket_action(multi, t->fd, flags, &running);
        drain_done();
      } else {
        client *c = (client *)t;
        if (evs[i].events & EPOLLOUT) {
          if (flush(c) < 0) { close_client(c); continue; }
          if (c->out_len == 0) { struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c }; epoll_ctl(ep, EPOLL_CTL_MOD, c->tag.fd, &ev); }
        }
        if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
          grow(&c->in, &c->in_cap, c->in_len + 65536);
          ssize_t r = recv(c->tag.fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
          if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) { close_client(c); continue; }
          if (r > 0) {
            c->in_len += (size_t)r;
            if (c->in_len > (1u << 20)) { close_client(c); continue; }
            start_next(c);
          }
        }
      }
    }
    while (dead) { tag *t = dead; dead = t->next_dead; free(t); }
  }
}
