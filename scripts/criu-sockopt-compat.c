/*
 * Preloaded into criu 4.1.x by the wrapper that scripts/setup-criu.sh writes.
 *
 * Linux 6.16 restricted SO_PASSCRED and SO_PASSSEC to AF_UNIX, AF_NETLINK and
 * AF_BLUETOOTH sockets (kernel commit 7d8d93fdde50, "net: Restrict
 * SO_PASS{CRED,PIDFD,SEC} to AF_{UNIX,NETLINK,BLUETOOTH}"): on any other socket,
 * getsockopt() now fails with EOPNOTSUPP. CRIU 4.1.1 reads both options from every
 * socket it dumps and gives up on that error, so it cannot dump a process with a
 * TCP socket on such a kernel ("sockets: Can't get 1:16 opt: Operation not
 * supported", checkpoint-restore/criu#2705, #2718; fixed upstream by #2719).
 *
 * This does what the upstream fix does: where the kernel refuses those two options,
 * they are off (such a socket cannot have them on), so report 0, and accept setting
 * them to 0 on restore. Every other call goes to libc unchanged.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <sys/socket.h>

#ifndef SO_PASSSEC
#define SO_PASSSEC 34
#endif

typedef int (*getsockopt_fn)(int, int, int, void *, socklen_t *);
typedef int (*setsockopt_fn)(int, int, int, const void *, socklen_t);

static int is_pass_option(int level, int name)
{
	return level == SOL_SOCKET && (name == SO_PASSCRED || name == SO_PASSSEC);
}

int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	static getsockopt_fn real;
	int saved, ret;

	if (!real)
		real = (getsockopt_fn)dlsym(RTLD_NEXT, "getsockopt");
	ret = real(fd, level, name, val, len);
	if (ret < 0 && errno == EOPNOTSUPP && is_pass_option(level, name) && val && len && *len >= sizeof(int)) {
		saved = errno;
		*(int *)val = 0;
		*len = sizeof(int);
		errno = saved;
		return 0;
	}
	return ret;
}

int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	static setsockopt_fn real;
	int ret;

	if (!real)
		real = (setsockopt_fn)dlsym(RTLD_NEXT, "setsockopt");
	ret = real(fd, level, name, val, len);
	if (ret < 0 && errno == EOPNOTSUPP && is_pass_option(level, name) && val && len >= sizeof(int) && *(const int *)val == 0)
		return 0;
	return ret;
}
