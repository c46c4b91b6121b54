// Uses an IIO input device the way another program would (iiod, iio_readdev): opens
// /dev/iio:deviceN first, enables every input scan element but the timestamp, enables
// buffer0 and reads it (fileio) until SIGTERM or SIGINT, then disables the buffer again.
// Prints "holding DEV" once the first data arrived, then "read BYTES" about 4 times a second.
//
// Usage: iio_hold SYSFS_DEVICE_DIR   (/sys/bus/iio/devices/iio:deviceN)
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int write_attr(const char *dir, const char *name, const char *value)
{
	char path[512];
	int fd, ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "iio_hold: open %s: %s\n", path, strerror(errno));
		return -1;
	}
	ok = write(fd, value, strlen(value)) == (ssize_t)strlen(value);
	if (!ok)
		fprintf(stderr, "iio_hold: write '%s' to %s: %s\n", value, path, strerror(errno));
	close(fd);
	return ok ? 0 : -1;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	static char data[65536];
	char node[300], buffer[512];
	const char *dev, *id;
	struct sigaction sa = { .sa_handler = on_signal }; /* no SA_RESTART: read() -> EINTR */
	uint64_t total = 0;
	double last = 0;
	struct dirent *e;
	int fd, rc = 0;
	DIR *d;

	if (argc != 2) {
		fprintf(stderr, "usage: iio_hold SYSFS_DEVICE_DIR\n");
		return 2;
	}
	dev = argv[1];
	id = strrchr(dev, '/') ? strrchr(dev, '/') + 1 : dev;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	/* The chardev first, like libiio's local backend: it is ours from now on. */
	snprintf(node, sizeof(node), "/dev/%s", id);
	fd = open(node, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "iio_hold: open %s: %s\n", node, strerror(errno));
		return 1;
	}
	snprintf(buffer, sizeof(buffer), "%s/buffer0", dev);
	if (write_attr(buffer, "enable", "0") < 0)
		return 1;
	d = opendir(buffer);
	if (!d) {
		fprintf(stderr, "iio_hold: %s: %s\n", buffer, strerror(errno));
		return 1;
	}
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);

		if (strncmp(e->d_name, "in_", 3) || n < 4 || strcmp(e->d_name + n - 3, "_en"))
			continue;
		if (write_attr(buffer, e->d_name, strstr(e->d_name, "timestamp") ? "0" : "1") < 0)
			return 1;
	}
	closedir(d);
	if (write_attr(buffer, "length", "8192") < 0 || write_attr(buffer, "enable", "1") < 0)
		return 1;

	while (!stop) {
		ssize_t n = read(fd, data, sizeof(data));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "iio_hold: read %s: %s\n", node, strerror(errno));
			rc = 1;
			break;
		}
		if (!total && n > 0)
			printf("holding %s\n", id);
		total += n;
		if (now() - last >= 0.25) {
			last = now();
			printf("read %llu\n", (unsigned long long)total);
			fflush(stdout);
		}
	}
	if (write_attr(buffer, "enable", "0") < 0)
		rc = 1;
	close(fd);
	printf("read %llu\nstopped\n", (unsigned long long)total);
	return rc;
}
