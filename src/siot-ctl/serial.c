/* SPDX-License-Identifier: MIT */
#include "serial.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <termios.h>
#include <unistd.h>

static const struct {
	unsigned baud;
	speed_t speed;
} speeds[] = {
	{ 1200, B1200 },       { 2400, B2400 },       { 4800, B4800 },     { 9600, B9600 },
	{ 19200, B19200 },     { 38400, B38400 },     { 57600, B57600 },   { 115200, B115200 },
	{ 230400, B230400 },   { 460800, B460800 },   { 500000, B500000 }, { 921600, B921600 },
	{ 1000000, B1000000 },
};

static int speed_of(unsigned baud, speed_t *out)
{
	for (size_t i = 0; i < sizeof(speeds) / sizeof(speeds[0]); i++)
		if (speeds[i].baud == baud) {
			*out = speeds[i].speed;
			return 0;
		}
	return -EINVAL;
}

bool serial_speed_known(unsigned baud)
{
	speed_t s;

	return speed_of(baud, &s) == 0;
}

int serial_open(const char *path, unsigned baud, char *err, size_t n)
{
	struct termios t;
	speed_t speed;
	int fd, r;

	if (speed_of(baud, &speed) < 0) {
		snprintf(err, n, "%u baud: not a speed a serial port takes (%s)", baud,
			 SERIAL_SPEEDS_TEXT);
		return -EINVAL;
	}
	fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		snprintf(err, n, "cannot open serial port %s: %s", path, strerror(errno));
		return r;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		r = errno == EWOULDBLOCK ? -EBUSY : -errno;
		snprintf(err, n, "serial port %s is busy: %s", path,
			 r == -EBUSY ? "another program has it open" : strerror(-r));
		close(fd);
		return r;
	}
	if (tcgetattr(fd, &t) < 0) {
		r = errno == ENOTTY || errno == EINVAL ? -ENOTTY : -errno;
		snprintf(err, n, "%s is not a serial port: %s", path, strerror(errno));
		close(fd);
		return r;
	}
	cfmakeraw(&t);
	t.c_cflag |= CLOCAL | CREAD;
	t.c_cflag &= ~(tcflag_t)(HUPCL | CSTOPB | CRTSCTS);
	t.c_cc[VMIN] = 0;
	t.c_cc[VTIME] = 0;
	if (cfsetispeed(&t, speed) < 0 || cfsetospeed(&t, speed) < 0 ||
	    tcsetattr(fd, TCSANOW, &t) < 0) {
		r = -errno;
		snprintf(err, n, "cannot set up serial port %s: %s", path, strerror(errno));
		close(fd);
		return r;
	}
	/* What the board said before we listened (a bootloader's banner, half
	 * an old answer) is not ours. */
	tcflush(fd, TCIOFLUSH);
	return fd;
}
