/*
 * An IIO device of iio-sim for the kbug_* programs: found by name, its
 * buffer0 attributes, its buffer fd. One device per program.
 */
#ifndef KBUG_IIO_DEV_H
#define KBUG_IIO_DEV_H

#include <dirent.h>

#include "kbug_common.h"

static char sysdir[300];
static int devfd = -1;

static void find_device(const char *name)
{
	DIR *d = opendir("/sys/bus/iio/devices");
	struct dirent *e;
	char path[320], buf[64];

	if (!d)
		kbug_die("no /sys/bus/iio/devices: %s", strerror(errno));
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, "iio:device", 10))
			continue;
		snprintf(path, sizeof(path), "/sys/bus/iio/devices/%s/name", e->d_name);
		if (!kbug_read_file(path, buf, sizeof(buf)) && !strcmp(buf, name)) {
			snprintf(sysdir, sizeof(sysdir), "/sys/bus/iio/devices/%s", e->d_name);
			snprintf(path, sizeof(path), "/dev/%s", e->d_name);
			devfd = open(path, O_RDWR | O_CLOEXEC);
			if (devfd < 0)
				kbug_die("open %s: %s", path, strerror(errno));
			break;
		}
	}
	closedir(d);
	if (devfd < 0)
		kbug_die("no IIO device named %s (is iio-sim loaded?)", name);
}

static void attr_write(const char *attr, const char *val)
{
	char path[400];

	snprintf(path, sizeof(path), "%s/buffer0/%s", sysdir, attr);
	kbug_must_write(path, val);
}

/* A device attribute of iio-sim (sim_stall...). */
static void dev_attr_write(const char *attr, const char *val)
{
	char path[400];

	snprintf(path, sizeof(path), "%s/%s", sysdir, attr);
	kbug_must_write(path, val);
}

static void buffer_enable(int on)
{
	attr_write("enable", on ? "1" : "0");
}

/* `dir`: "in" (the ADC) or "out" (the DAC); `channels` enabled, length in sample sets. */
static void setup_channels(const char *dir, int channels, int length)
{
	char attr[64], len[16];
	int i;

	buffer_enable(0);
	for (i = 0; i < channels; i++) {
		snprintf(attr, sizeof(attr), "%s_voltage%d_en", dir, i);
		attr_write(attr, "1");
	}
	snprintf(len, sizeof(len), "%d", length);
	attr_write("length", len);
}

/* The buffer fd (IIO_BUFFER_GET_FD_IOCTL), non-blocking. */
static int buffer_fd(void)
{
	int fd = 0;

	if (ioctl(devfd, KBUG_IIO_BUFFER_GET_FD_IOCTL, &fd))
		kbug_die("IIO_BUFFER_GET_FD_IOCTL: %s", strerror(errno));
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK))
		kbug_die("O_NONBLOCK: %s", strerror(errno));
	return fd;
}

static int iio_ioctl(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg) ? -errno : 0;
}

#endif
