/* itutil.c: see itutil.h. Ports come from binding port 0 and reading the
 * kernel's choice, so parallel test runs do not collide. */
#include "itutil.h"

#include "client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <poll.h>
#include <unistd.h>

static int free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static char tmproot[512];

static void rm_tmp(void)
{
	char cmd[600];
	if (tmproot[0] && getenv("IT_KEEP") == NULL) {
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmproot);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", tmproot);
	}
}

const char *it_tmpdir(void)
{
	if (tmproot[0] == 0) {
		const char *t = getenv("TMPDIR");
		snprintf(tmproot, sizeof tmproot, "%s/ecoroll-it-XXXXXX", t && t[0] ? t : "/tmp");
		if (mkdtemp(tmproot) == NULL) {
			perror("mkdtemp");
			exit(2);
		}
		atexit(rm_tmp);
	}
	return tmproot;
}

void it_daemon_init(it_daemon *d, const char *tmpdir)
{
	static int seq;
	memset(d, 0, sizeof *d);
	snprintf(d->dir, sizeof d->dir, "%s/db%d", tmpdir, ++seq);
	snprintf(d->log, sizeof d->log, "%s/ecorolld%d.log", tmpdir, seq);
	snprintf(d->listen, sizeof d->listen, "tcp://127.0.0.1:%d", free_port());
	snprintf(d->control, sizeof d->control, "tcp://127.0.0.1:%d", free_port());
	snprintf(d->pub, sizeof d->pub, "tcp://127.0.0.1:%d", free_port());
	snprintf(d->http, sizeof d->http, "127.0.0.1:%d", free_port());
}

static const char *bin(const char *name, char *buf, size_t cap)
{
	const char *b = getenv("ECOROLL_BIN");
	snprintf(buf, cap, "%s/%s", b && b[0] ? b : "build", name);
	return buf;
}

static void go_src(void)
{
	const char *s = getenv("ECOROLL_SRC");
	if (s && s[0] && chdir(s) != 0)
		perror("chdir ECOROLL_SRC");
}

static bool answers(void *ctx)
{
	it_daemon *d = ctx;
	pb_msg req = {.type = PB_STATUS_REQUEST}, rep;
	int st;
	if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
		d->pid = -st - 1; /* exited: stop waiting */
		return true;
	}
	if (ing_request(d->control, &req, 200, &rep) != 0)
		return false;
	pb_msg_fini(&rep);
	return true;
}

int it_daemon_start(it_daemon *d)
{
	char path[700];
	const char *argv[56];
	int n = 0;

	go_src();
	argv[n++] = bin("ecorolld", path, sizeof path);
	argv[n++] = "-c";
	argv[n++] = "conf/ecoroll.ini";
	argv[n++] = "--data-dir";
	argv[n++] = d->dir;
	argv[n++] = "--listen";
	argv[n++] = d->listen;
	argv[n++] = "--control";
	argv[n++] = d->control;
	argv[n++] = "--flush-ms";
	argv[n++] = "50";
	snprintf(d->pubarg, sizeof d->pubarg, "warnings.publish=%s", d->pub);
	argv[n++] = "--set";
	argv[n++] = d->pubarg;
	snprintf(d->httparg, sizeof d->httparg, "api.listen=%s", d->http);
	argv[n++] = "--set";
	argv[n++] = d->httparg;
	for (int i = 0; d->extra[i] && n < 54; i++)
		argv[n++] = d->extra[i];
	argv[n] = NULL;
	fflush(NULL);
	d->pid = fork();
	if (d->pid < 0)
		return -1;
	if (d->pid == 0) {
		int fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (!it_until(answers, d, 20000) || d->pid < 0) {
		fprintf(stderr, "ecorolld did not start; its log %s:\n", d->log);
		snprintf(path, sizeof path, "cat '%s' >&2", d->log);
		if (system(path) != 0)
			fprintf(stderr, "(no log)\n");
		return -1;
	}
	return 0;
}

int it_daemon_kill(it_daemon *d, int sig)
{
	int st = -1;
	if (d->pid <= 0)
		return -1;
	kill(d->pid, sig);
	while (waitpid(d->pid, &st, 0) < 0 && errno == EINTR)
		;
	d->pid = 0;
	return st;
}

static pid_t spawn(const char *const *args, int outfd)
{
	char path[600];
	const char *argv[64];
	int n = 0;
	pid_t pid;

	go_src();
	argv[n++] = bin("ecoroll", path, sizeof path);
	for (int i = 0; args[i] && n < 63; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		if (outfd >= 0)
			dup2(outfd, 1);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	return pid;
}

int it_wait(pid_t pid)
{
	int st;
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int it_ecoroll(char *out, size_t cap, const char *const *args)
{
	int p[2] = {-1, -1};
	pid_t pid;
	size_t n = 0;

	if (out && pipe(p) != 0)
		return -1;
	pid = spawn(args, out ? p[1] : -1);
	if (out) {
		close(p[1]);
		for (;;) {
			ssize_t r = read(p[0], out + n, cap - 1 - n);
			if (r <= 0)
				break;
			n += (size_t)r;
			if (n == cap - 1) {
				char sink[256];
				while (read(p[0], sink, sizeof sink) > 0)
					;
				break;
			}
		}
		out[n] = 0;
		close(p[0]);
	}
	return it_wait(pid);
}

pid_t it_ecoroll_bg(const char *const *args, const char *outfile)
{
	int fd = outfile ? open(outfile, O_WRONLY | O_CREAT | O_TRUNC, 0644) : -1;
	pid_t pid = spawn(args, fd);
	if (fd >= 0)
		close(fd);
	return pid;
}

int it_query_sum(const char *control, int level, const char *entity, int res, int64_t from, int64_t to,
		 const char *carrier, er_fx *sum, size_t *nrows)
{
	pb_msg req = {.type = PB_QUERY}, rep;
	int rc;

	req.u.query.level = level;
	req.u.query.entity = entity;
	req.u.query.resolution = res;
	req.u.query.from = from;
	req.u.query.to = to;
	req.u.query.carrier = carrier ? carrier : "";
	if ((rc = ing_request(control, &req, 10000, &rep)) != 0)
		return rc;
	if (rep.type != PB_QUERY_REPLY || !rep.u.query_reply.ok) {
		fprintf(stderr, "query failed: %s\n", rep.type == PB_QUERY_REPLY ? rep.u.query_reply.error : "?");
		pb_msg_fini(&rep);
		return ER_EPROTO;
	}
	*sum = 0;
	for (size_t i = 0; i < rep.u.query_reply.nrows; i++)
		*sum += rep.u.query_reply.rows[i].sum;
	if (nrows)
		*nrows = rep.u.query_reply.nrows;
	pb_msg_fini(&rep);
	return 0;
}

int it_http_get(const char *hostport, const char *path, char *out, size_t cap)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	const char *colon = strrchr(hostport, ':');
	char req[256];
	size_t n = 0;
	int fd, code = -1;

	a.sin_port = htons((uint16_t)atoi(colon + 1));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return -1;
	int len = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n", path, hostport);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0 || write(fd, req, (size_t)len) != len) {
		close(fd);
		return -1;
	}
	/* HTTP/1.0: the server closes the connection after the body */
	for (ssize_t r; n < cap - 1 && (r = read(fd, out + n, cap - 1 - n)) > 0;)
		n += (size_t)r;
	out[n] = 0;
	close(fd);
	if (sscanf(out, "HTTP/1.%*d %d", &code) != 1)
		return -1;
	char *body = strstr(out, "\r\n\r\n");
	if (body != NULL)
		memmove(out, body + 4, strlen(body + 4) + 1);
	return code;
}

uint64_t it_counter(const char *control, const char *name)
{
	pb_msg req = {.type = PB_STATUS_REQUEST}, rep;
	uint64_t v = UINT64_MAX;
	if (ing_request(control, &req, 5000, &rep) != 0)
		return v;
	if (rep.type == PB_STATUS_REPLY)
		for (size_t i = 0; i < rep.u.status_reply.ncounters; i++)
			if (strcmp(rep.u.status_reply.counters[i].name, name) == 0)
				v = rep.u.status_reply.counters[i].value;
	pb_msg_fini(&rep);
	return v;
}

bool it_until(bool (*pred)(void *), void *ctx, int timeout_ms)
{
	for (int waited = 0; waited <= timeout_ms; waited += 20) {
		if (pred(ctx))
			return true;
		poll(NULL, 0, 20); /* the bounded wait between two checks */
	}
	return false;
}
