/*
 * bench_util: small measuring helpers for the benchmark scenario (bench/, scenario
 * bench_rx), where busybox has no getconf and no way to time a pipe.
 *
 *   bench_util cpu PID        CPU seconds of process PID (all its threads): the sum of
 *                             their run time in ns (/proc/PID/task/TID/schedstat, first
 *                             field; the same scheduler clock that /proc/PID/stat's
 *                             utime + stime are scaled to, there in 10 ms ticks, too
 *                             coarse for a 3 s point); /proc/PID/stat where the kernel
 *                             has no schedstat (CONFIG_SCHED_INFO)
 *   bench_util vmcpu          CPU seconds the whole guest spent not idle (all CPUs:
 *                             user, nice, system, irq, softirq, steal from /proc/stat)
 *   bench_util sink -b BLOCK [-p PID]
 *                             read stdin to its end and measure the rate of a producer
 *                             that delivers BLOCK-byte bursts (iio_readdev writing one
 *                             buffer per refill): the window opens when the first BLOCK
 *                             bytes have arrived and closes at the end of the data, so
 *                             it spans whole block periods and leaves out the
 *                             producer's start-up. With -p, PID's CPU time (as `cpu`)
 *                             and the guest's (as `vmcpu`) are read at both ends.
 *                             Prints one line:
 *                             "bytes=N secs=S cpu=C vmcpu=V total=T" (window bytes and
 *                             seconds; cpu -1 without -p; bytes 0 if the first block
 *                             never completed).
 *
 * Exit status: 0, 1 on an error, 2 usage.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The run time of every thread of a process in seconds (schedstat), or -1. */
static double proc_run_time(long pid)
{
    char path[64];
    unsigned long long sum = 0, ns;
    struct dirent *d;
    DIR *dir;
    FILE *f;
    int n = 0;

    snprintf(path, sizeof(path), "/proc/%ld/task", pid);
    dir = opendir(path);
    if (!dir)
        return -1;
    while ((d = readdir(dir))) {
        char p[300];

        if (d->d_name[0] == '.')
            continue;
        snprintf(p, sizeof(p), "/proc/%ld/task/%s/schedstat", pid, d->d_name);
        f = fopen(p, "r");
        if (!f)
            continue;
        if (fscanf(f, "%llu", &ns) == 1) {
            sum += ns;
            n++;
        }
        fclose(f);
    }
    closedir(dir);
    return n ? (double)sum / 1e9 : -1;
}

/* CPU seconds of a process: proc_run_time(), else utime + stime, or -1. */
static double proc_cpu(long pid)
{
    char path[64], buf[1024];
    unsigned long long utime, stime;
    FILE *f;
    size_t n;
    char *p;

    double t = proc_run_time(pid);

    if (t >= 0)
        return t;
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    f = fopen(path, "r");
    if (!f)
        return -1;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* The command name may hold spaces and parentheses: fields restart after the last ')'. */
    p = strrchr(buf, ')');
    if (!p)
        return -1;
    /* After ')': state(3) ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
     * cmajflt utime(14) stime(15). */
    if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) !=
        2)
        return -1;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* Non-idle CPU seconds of the machine, all CPUs, or -1. */
static double vm_cpu(void)
{
    unsigned long long v[8] = {0};
    FILE *f = fopen("/proc/stat", "r");
    int n;

    if (!f)
        return -1;
    /* cpu user nice system idle iowait irq softirq steal */
    n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4],
               &v[5], &v[6], &v[7]);
    fclose(f);
    if (n < 7)
        return -1;
    return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / (double)sysconf(_SC_CLK_TCK);
}

static int sink(uint64_t block, long pid)
{
    static char buf[1 << 16];
    uint64_t total = 0, at_open = 0;
    double t_open = 0, t_close = 0, cpu0 = -1, cpu1 = -1, vm0 = -1, vm1 = -1;
    int open_ = 0;

    for (;;) {
        ssize_t r = read(STDIN_FILENO, buf, sizeof(buf));

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            fprintf(stderr, "bench_util sink: read: %s\n", strerror(errno));
            return 1;
        }
        if (r == 0)
            break;
        total += (uint64_t)r;
        t_close = now();
        if (!open_ && total >= block) {
            open_ = 1;
            t_open = t_close;
            at_open = total;
            if (pid > 0)
                cpu0 = proc_cpu(pid);
            vm0 = vm_cpu();
        }
    }
    if (open_ && pid > 0)
        cpu1 = proc_cpu(pid);
    vm1 = vm_cpu();
    if (!open_ || t_close <= t_open) {
        printf("bytes=0 secs=0 cpu=-1 vmcpu=-1 total=%llu\n", (unsigned long long)total);
        return 0;
    }
    printf("bytes=%llu secs=%.3f cpu=%.3f vmcpu=%.3f total=%llu\n",
           (unsigned long long)(total - at_open), t_close - t_open,
           cpu0 >= 0 && cpu1 >= 0 ? cpu1 - cpu0 : -1.0, vm0 >= 0 ? vm1 - vm0 : -1.0,
           (unsigned long long)total);
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: bench_util cpu PID | vmcpu | sink -b BLOCK [-p PID]\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "cpu")) {
        double c = proc_cpu(strtol(argv[2], NULL, 10));

        if (c < 0) {
            fprintf(stderr, "bench_util: no CPU time for process %s\n", argv[2]);
            return 1;
        }
        printf("%.3f\n", c);
        return 0;
    }
    if (argc == 2 && !strcmp(argv[1], "vmcpu")) {
        double c = vm_cpu();

        if (c < 0) {
            fprintf(stderr, "bench_util: cannot read /proc/stat\n");
            return 1;
        }
        printf("%.3f\n", c);
        return 0;
    }
    if (argc >= 2 && !strcmp(argv[1], "sink")) {
        uint64_t block = 0;
        long pid = 0;

        for (int i = 2; i < argc; i++) {
            if (!strcmp(argv[i], "-b") && i + 1 < argc)
                block = strtoull(argv[++i], NULL, 0);
            else if (!strcmp(argv[i], "-p") && i + 1 < argc)
                pid = strtol(argv[++i], NULL, 10);
            else
                return usage();
        }
        if (!block)
            return usage();
        return sink(block, pid);
    }
    return usage();
}
