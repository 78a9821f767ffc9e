#ifndef ULTRAGATE_SHIMS_H
#define ULTRAGATE_SHIMS_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>

/* epoll, eventfd and accept4 are not reachable from Swift's Glibc module. */
int ug_epoll_create(void);
/* events: bitmask of UG_EPOLL* below; data: opaque 64-bit value returned by wait. */
int ug_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data);
typedef struct { uint32_t events; uint64_t data; } ug_event;
int ug_epoll_wait(int epfd, ug_event *events, int maxevents, int timeout_ms);

extern const int UG_EPOLL_CTL_ADD, UG_EPOLL_CTL_MOD, UG_EPOLL_CTL_DEL;
extern const uint32_t UG_EPOLLIN, UG_EPOLLOUT, UG_EPOLLERR, UG_EPOLLHUP, UG_EPOLLRDHUP, UG_EPOLLET, UG_EPOLLEXCLUSIVE;

int ug_eventfd(void);
int ug_eventfd_signal(int fd);
int ug_eventfd_drain(int fd);

/* A non-blocking CLOCK_MONOTONIC timerfd; arming takes an absolute time in nanoseconds
   (0 disarms). Swift's Glibc module does not import <sys/timerfd.h>. */
int ug_timerfd_create(void);
int ug_timerfd_arm_absolute(int fd, uint64_t monotonic_nanos);

/* accept4 with SOCK_NONBLOCK | SOCK_CLOEXEC. */
int ug_accept_nonblocking(int fd, struct sockaddr *addr, socklen_t *len);
int ug_set_nonblocking(int fd);
int ug_set_int_sockopt(int fd, int level, int name, int value);
extern const int UG_SOL_SOCKET, UG_SO_REUSEADDR, UG_SO_REUSEPORT, UG_IPPROTO_TCP, UG_TCP_NODELAY, UG_MSG_NOSIGNAL;

/* SHA-256 block compression with the CPU's SHA instructions (x86-64 SHA-NI). available() checks the
 * CPU once (SHA, SSE4.1, SSSE3) and returns 1 if compress may be called; it is 0 on other
 * architectures. compress runs FIPS 180-4 compression over nblocks consecutive 64-byte blocks,
 * updating state = {a, b, c, d, e, f, g, h} in place. */
/* getrandom(2) (flags 0: the kernel CSPRNG, blocking only until it is first seeded); Swift's Glibc
 * module does not import <sys/random.h>. Returns the bytes written or -1 with errno. */
ssize_t ug_getrandom(void *buffer, size_t length);

int ug_sha256_hw_available(void);
void ug_sha256_hw_compress(uint32_t state[8], const uint8_t *blocks, size_t nblocks);
#endif
