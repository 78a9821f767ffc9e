#define _GNU_SOURCE
#include <sys/timerfd.h>
#include "ug_shims.h"
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <fcntl.h>
#include <unistd.h>
#include <errno.h>

const int UG_EPOLL_CTL_ADD = EPOLL_CTL_ADD, UG_EPOLL_CTL_MOD = EPOLL_CTL_MOD, UG_EPOLL_CTL_DEL = EPOLL_CTL_DEL;
const uint32_t UG_EPOLLIN = EPOLLIN, UG_EPOLLOUT = EPOLLOUT, UG_EPOLLERR = EPOLLERR, UG_EPOLLHUP = EPOLLHUP,
               UG_EPOLLRDHUP = EPOLLRDHUP, UG_EPOLLET = EPOLLET, UG_EPOLLEXCLUSIVE = EPOLLEXCLUSIVE;
const int UG_SOL_SOCKET = SOL_SOCKET, UG_SO_REUSEADDR = SO_REUSEADDR, UG_SO_REUSEPORT = SO_REUSEPORT,
          UG_IPPROTO_TCP = IPPROTO_TCP, UG_TCP_NODELAY = TCP_NODELAY, UG_MSG_NOSIGNAL = MSG_NOSIGNAL;

int ug_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int ug_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev;
    ev.events = events;
    ev.data.u64 = data;
    return epoll_ctl(epfd, op, fd, &ev);
}

int ug_epoll_wait(int epfd, ug_event *out, int maxevents, int timeout_ms) {
    struct epoll_event evs[256];
    if (maxevents > 256) maxevents = 256;
    int n = epoll_wait(epfd, evs, maxevents, timeout_ms);
    for (int i = 0; i < n; i++) { out[i].events = evs[i].events; out[i].data = evs[i].data.u64; }
    return n;
}

int ug_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }
int ug_eventfd_signal(int fd) { uint64_t one = 1; return (int)write(fd, &one, sizeof one); }
int ug_eventfd_drain(int fd) { uint64_t v; return (int)read(fd, &v, sizeof v); }

int ug_timerfd_create(void) { return timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC); }
int ug_timerfd_arm_absolute(int fd, uint64_t monotonic_nanos) {
    struct itimerspec spec = {0};
    spec.it_value.tv_sec = (time_t)(monotonic_nanos / 1000000000u);
    spec.it_value.tv_nsec = (long)(monotonic_nanos % 1000000000u);
    return timerfd_settime(fd, TFD_TIMER_ABSTIME, &spec, NULL);
}

int ug_accept_nonblocking(int fd, struct sockaddr *addr, socklen_t *len) {
    return accept4(fd, addr, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
}
int ug_set_nonblocking(int fd) {
    int flags = fcntl(fd, F_GETFL, 0);
    if (flags < 0) return -1;
    return fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}
int ug_set_int_sockopt(int fd, int level, int name, int value) {
    return setsockopt(fd, level, name, &value, sizeof value);
}

ssize_t ug_getrandom(void *buffer, size_t length) { return getrandom(buffer, length, 0); }
