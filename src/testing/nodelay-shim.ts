/**
 * The C source of an LD_PRELOAD shim for the test pcscd, compiled into each rig's own directory
 * (kept here as text so that it travels in the package with the code that builds it).
 */
export const NODELAY_SHIM_C = `/*
 * LD_PRELOAD shim for the test pcscd: sets TCP_NODELAY on the sockets vpcd accepts. vpcd writes a
 * length and a payload in two small writes; with Nagle's algorithm and delayed ACKs every APDU
 * then waits ~40 ms. With this, a round trip through pcscd takes ~0.2 ms.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

static void nodelay(int fd) {
  int one = 1;
  if (fd >= 0) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int accept(int fd, struct sockaddr *addr, socklen_t *len) {
  static int (*real)(int, struct sockaddr *, socklen_t *);
  if (!real) real = (int (*)(int, struct sockaddr *, socklen_t *))dlsym(RTLD_NEXT, "accept");
  int r = real(fd, addr, len);
  nodelay(r);
  return r;
}

int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) {
  static int (*real)(int, struct sockaddr *, socklen_t *, int);
  if (!real) real = (int (*)(int, struct sockaddr *, socklen_t *, int))dlsym(RTLD_NEXT, "accept4");
  int r = real(fd, addr, len, flags);
  nodelay(r);
  return r;
}
`;
