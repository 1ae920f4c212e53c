/* SPDX-License-Identifier: MIT */
/*
 * avr-bridge: run an AVR firmware image in simavr (libsimavr) and bridge its
 * USART0 to a TCP port, so that any client (siot-ctl, siot-client) can talk
 * to it as to a board on a USB serial adapter.
 *
 *   avr-bridge FIRMWARE.elf --eeprom IMG (--listen HOST:PORT | --pty)
 *              [--mcu atmega328p] [--freq 16000000] [--eeprom-out FILE]
 *              [--reset-on-connect] [--boot-delay MS] [--tear-eeprom AT,LEN,K]
 *              [--unthrottled]
 *   avr-bridge FIRMWARE.elf --eeprom IMG --w5100 HOST:PORT
 *              [--w5100-ring-start N] [...]
 *
 * --w5100 puts an Arduino Ethernet shield on the part instead of the UART:
 * a W5100 on SPI (chip select D10), modelled in w5100-model.c, whose
 * socket 0 takes TCP connections on HOST:PORT; D10..D13 are then its bus,
 * not pins reported.  --w5100-ring-start starts its ring pointers at N (a
 * real chip: 0), so that a driver's wrap-around is tested early.  The
 * model exits 3 with "w5100: FAIL ..." when the firmware drives the chip
 * in a way the datasheet does not allow.
 *
 * --pty offers the UART as a pseudo-terminal instead (siot-ctl -S PATH),
 * printed as "pty PATH".  --reset-on-connect resets the part when a client
 * connects, as opening an Uno's USB serial port does (DTR); --boot-delay
 * then stands for its bootloader: for MS after a reset, bytes sent to the
 * part are lost.  --tear-eeprom resets the part (EEPROM kept) right after
 * the K-th byte the firmware changes in EEPROM[AT .. AT+LEN), once: a reset
 * in the middle of a multi-byte write, as a brown-out or a DTR pulse can
 * cause on a board.
 *
 * It prints, one line each, on standard output:
 *   listening HOST PORT         (or: pty PATH)
 *   pin D13 1 cycle=N ms=X      a change of an output pin (PORTB/PORTD, by
 *                               Arduino number), read from the simulated
 *                               port, with its cycle and time at FREQ
 *   latency cycles=N ms=X       from the last byte in to the first byte out
 *                               (the wake-up -> HELLO, the request ->
 *                               response: the firmware's work); with
 *                               --w5100, from the last bytes into the RX
 *                               ring to the first SEND, "spi=simavr"
 *                               added: simavr 1.6 takes a fixed 100 us a
 *                               SPI byte, so this is not a hardware figure
 *   w5100 listen port=N         the firmware's LISTEN, on its Sn_PORT
 *   ram untouched=N stack=M pc=A paint_end=E sp_min=S
 *                               after every answer: the longest run of SRAM
 *                               still holding the firmware's 0xC5 paint (free
 *                               RAM never reached by the stack or heap) and
 *                               its last address E, and the deepest the
 *                               stack has been, in bytes below RAMEND (the
 *                               stack pointer S, sampled after every
 *                               instruction that leaves interrupts enabled
 *                               and SP whole), and the program address
 *                               where it was (avr-addr2line -f)
 *   reset cycle=N               after SIGHUP (or a connection with
 *                               --reset-on-connect): the part is reset, its
 *                               EEPROM kept, like a board whose DTR fired
 *   tear at=A cycle=N           --tear-eeprom's reset, after the byte at A
 * The simulation is held to real time, so the firmware's millisecond clock
 * and a client's timeouts agree; --unthrottled runs it as fast as the host
 * can instead, for test images that keep no time (sha256-check: its
 * differential run, about 3 minutes of the part's time, takes 56 s here).  SIGTERM ends it, writing the EEPROM to
 * --eeprom-out if given.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <termios.h>

#include <avr_eeprom.h>
#include <avr_ioport.h>
#include <avr_uart.h>
#include <sim_avr.h>
#include <sim_elf.h>
#include <sim_irq.h>

#include "w5100-model.h"

#define PAINT 0xC5
#define EEPROM_MAX 4096

static volatile sig_atomic_t want_reset, want_stop;
static uint64_t boot_until_cycle; /* bytes to the part are lost until then */
static avr_t *avr;
static int client_fd = -1;
static bool uart_xon = true;
static uint8_t in_buf[4096];
static size_t in_len;
static uint64_t last_in_cycle;
static bool answered_since_input = true;
static uint32_t freq = 16000000;
static uint16_t sp_min = 0xffff;
static uint32_t sp_min_pc; /* where the stack was deepest (byte address) */

static uint16_t sp_now(void)
{
	return (uint16_t)(avr->data[0x5d] | avr->data[0x5e] << 8); /* SPL, SPH */
}

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		want_reset = 1;
	else
		want_stop = 1;
}

static double ms_of(uint64_t cycle)
{
	return (double)cycle * 1000.0 / freq;
}

static bool w5100_mode;

void bridge_input_event(void)
{
	last_in_cycle = avr->cycle;
	answered_since_input = false;
}

void bridge_output_event(void)
{
	if (!answered_since_input) {
		uint64_t d = avr->cycle - last_in_cycle;

		printf("latency cycles=%llu ms=%.3f%s\n", (unsigned long long)d, ms_of(d),
		       w5100_mode ? " spi=simavr" : "");
		answered_since_input = true;
	}
}

static void on_uart_out(struct avr_irq_t *irq, uint32_t value, void *param)
{
	uint8_t b = (uint8_t)value;

	(void)irq;
	(void)param;
	bridge_output_event();
	if (client_fd >= 0 && write(client_fd, &b, 1) != 1) {
		close(client_fd);
		client_fd = -1;
	}
}

static void on_xon(struct avr_irq_t *irq, uint32_t value, void *param)
{
	(void)irq, (void)value, (void)param;
	uart_xon = true;
}

static void on_xoff(struct avr_irq_t *irq, uint32_t value, void *param)
{
	(void)irq, (void)value, (void)param;
	uart_xon = false;
}

static void on_pin(struct avr_irq_t *irq, uint32_t value, void *param)
{
	int arduino = (int)(intptr_t)param;

	(void)irq;
	printf("pin D%d %u cycle=%llu ms=%.3f\n", arduino, value & 1,
	       (unsigned long long)avr->cycle, ms_of(avr->cycle));
}

/* The longest run of painted bytes in SRAM; *last is its last address. */
static unsigned untouched(unsigned *last)
{
	unsigned best = 0, run = 0;

	*last = 0;
	for (unsigned a = avr->ioend + 1; a <= avr->ramend; a++) {
		run = avr->data[a] == PAINT ? run + 1 : 0;
		if (run > best) {
			best = run;
			*last = a;
		}
	}
	return best;
}

/* True when the next instruction writes SPL (OUT 0x3D, Rr).  avr-gcc moves
 * SP by writing SPH, then SREG (interrupts back on), then SPL: just before
 * the SPL write the I flag is set while SP holds the new high byte and the
 * old low byte, up to 255 bytes off. */
static bool next_writes_spl(void)
{
	uint16_t w = (uint16_t)(avr->flash[avr->pc] | avr->flash[avr->pc + 1] << 8);

	return (w & 0xF800) == 0xB800 && (((w >> 5) & 0x30) | (w & 0x0F)) == 0x3D;
}

/* The simulated EEPROM's own bytes.  (simavr's EEPROM ioctls answer -1
 * whether or not they worked, in some versions, and refuse the last byte;
 * asking for the buffer itself works in all.) */
static uint8_t *eeprom_bytes(void)
{
	avr_eeprom_desc_t d = { .ee = NULL, .offset = 0, .size = 1 };

	avr_ioctl(avr, AVR_IOCTL_EEPROM_GET, &d);
	if (!d.ee) {
		fprintf(stderr, "avr-bridge: this part has no EEPROM simavr can reach\n");
		exit(1);
	}
	return d.ee;
}

static void eeprom_io(bool set, uint8_t *ee, uint32_t size)
{
	if (set)
		memcpy(eeprom_bytes(), ee, size);
	else
		memcpy(ee, eeprom_bytes(), size);
}

static void reset_keeping_eeprom(uint32_t ee_size, uint32_t boot_delay_ms)
{
	static uint8_t ee[EEPROM_MAX];

	eeprom_io(false, ee, ee_size);
	avr_reset(avr);
	eeprom_io(true, ee, ee_size);
	boot_until_cycle = avr->cycle + (uint64_t)boot_delay_ms * freq / 1000;
	if (w5100_mode)
		w5100_model_reset(); /* the shield's reset is the board's */
	printf("reset cycle=%llu\n", (unsigned long long)avr->cycle);
}

/* A pseudo-terminal for the UART: the master is ours; the slave is kept
 * open (raw, so nothing echoes) so that a client may come and go. */
static int open_pty(void)
{
	struct termios t;
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC), sl;
	const char *name;

	if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0 || !(name = ptsname(m))) {
		fprintf(stderr, "avr-bridge: no pseudo-terminal: %s\n", strerror(errno));
		exit(1);
	}
	sl = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (sl < 0 || tcgetattr(sl, &t) < 0) {
		fprintf(stderr, "avr-bridge: %s: %s\n", name, strerror(errno));
		exit(1);
	}
	cfmakeraw(&t);
	tcsetattr(sl, TCSANOW, &t);
	printf("pty %s\n", name);
	return m;
}

static int listen_on(const char *spec)
{
	char host[256];
	const char *colon = strrchr(spec, ':');
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE }, *ai;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int fd, one = 1, rc;

	if (!colon || (size_t)(colon - spec) >= sizeof(host)) {
		fprintf(stderr, "avr-bridge: HOST:PORT, not %s\n", spec);
		exit(2);
	}
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = '\0';
	if ((rc = getaddrinfo(host, colon + 1, &hints, &ai)) != 0) {
		fprintf(stderr, "avr-bridge: %s: %s\n", spec, gai_strerror(rc));
		exit(2);
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 16) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
		fprintf(stderr, "avr-bridge: listen on %s: %s\n", spec, strerror(errno));
		exit(1);
	}
	freeaddrinfo(ai);
	printf("listening %s %u\n", host,
	       ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					      : ((struct sockaddr_in *)&ss)->sin_port));
	return fd;
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void usage(void)
{
	fprintf(stderr, "usage: avr-bridge FIRMWARE.elf --eeprom IMG (--listen HOST:PORT | --pty) "
			"[--mcu NAME] [--freq HZ] [--eeprom-out FILE] [--reset-on-connect] "
			"[--boot-delay MS] [--tear-eeprom AT,LEN,K] [--unthrottled]\n"
			"       avr-bridge FIRMWARE.elf --eeprom IMG --w5100 HOST:PORT [--w5100-ring-start N] [...]\n");
	exit(2);
}

/* The command line. */
static struct {
	const char *elf, *eeprom, *eeprom_out, *listen, *w5100;
	uint16_t ring_start;
	const char *mcu;
	bool reset_on_connect, pty, unthrottled;
	uint32_t boot_delay_ms;
	unsigned tear_at, tear_len, tear_k; /* --tear-eeprom; tear_k 0: off */
} opt = { .mcu = "atmega328p" };

static void parse_args(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--eeprom") == 0 && i + 1 < argc)
			opt.eeprom = argv[++i];
		else if (strcmp(a, "--eeprom-out") == 0 && i + 1 < argc)
			opt.eeprom_out = argv[++i];
		else if (strcmp(a, "--listen") == 0 && i + 1 < argc)
			opt.listen = argv[++i];
		else if (strcmp(a, "--w5100") == 0 && i + 1 < argc)
			opt.w5100 = argv[++i];
		else if (strcmp(a, "--w5100-ring-start") == 0 && i + 1 < argc)
			opt.ring_start = (uint16_t)strtoul(argv[++i], NULL, 0);
		else if (strcmp(a, "--mcu") == 0 && i + 1 < argc)
			opt.mcu = argv[++i];
		else if (strcmp(a, "--freq") == 0 && i + 1 < argc)
			freq = (uint32_t)strtoul(argv[++i], NULL, 10);
		else if (strcmp(a, "--reset-on-connect") == 0)
			opt.reset_on_connect = true;
		else if (strcmp(a, "--unthrottled") == 0)
			opt.unthrottled = true;
		else if (strcmp(a, "--pty") == 0)
			opt.pty = true;
		else if (strcmp(a, "--boot-delay") == 0 && i + 1 < argc)
			opt.boot_delay_ms = (uint32_t)strtoul(argv[++i], NULL, 10);
		else if (strcmp(a, "--tear-eeprom") == 0 && i + 1 < argc &&
			 sscanf(argv[++i], "%u,%u,%u", &opt.tear_at, &opt.tear_len, &opt.tear_k) == 3 &&
			 opt.tear_k > 0 && opt.tear_len <= 64 && opt.tear_at + opt.tear_len <= EEPROM_MAX)
			continue;
		else if (a[0] != '-' && !opt.elf)
			opt.elf = a;
		else
			usage();
	}
	if (!opt.elf || !!opt.listen + opt.pty + !!opt.w5100 != 1 || freq == 0)
		usage();
	w5100_mode = opt.w5100 != NULL;
}

/* The part with its firmware, and its EEPROM from the image (else erased)
 * in ee; returns the EEPROM's size. */
static uint32_t start_part(uint8_t *ee)
{
	elf_firmware_t fw;
	uint32_t ee_size;

	memset(&fw, 0, sizeof(fw));
	if (elf_read_firmware(opt.elf, &fw) != 0) {
		fprintf(stderr, "avr-bridge: cannot read %s\n", opt.elf);
		exit(1);
	}
	avr = avr_make_mcu_by_name(opt.mcu);
	if (!avr) {
		fprintf(stderr, "avr-bridge: simavr does not know %s\n", opt.mcu);
		exit(1);
	}
	avr_init(avr);
	avr->frequency = freq;
	avr_load_firmware(avr, &fw);
	ee_size = avr->e2end + 1;
	if (ee_size > EEPROM_MAX)
		ee_size = EEPROM_MAX;
	memset(ee, 0xff, EEPROM_MAX); /* an erased EEPROM */
	if (opt.eeprom) {
		FILE *f = fopen(opt.eeprom, "rb");
		size_t n;

		if (!f) {
			fprintf(stderr, "avr-bridge: %s: %s\n", opt.eeprom, strerror(errno));
			exit(1);
		}
		n = fread(ee, 1, ee_size, f);
		fclose(f);
		if (n == 0) {
			fprintf(stderr, "avr-bridge: %s is empty\n", opt.eeprom);
			exit(1);
		}
	}
	eeprom_io(true, ee, ee_size);
	return ee_size;
}

/* USART0 to our callbacks, and every Arduino pin of PORTB and PORTD to
 * on_pin; returns the UART's input. */
static avr_irq_t *wire_up(void)
{
	uint32_t flags = 0;

	avr_ioctl(avr, AVR_IOCTL_UART_GET_FLAGS('0'), &flags);
	/* No console copy, and no real-time sleeping when the firmware polls
	 * the status register: the bridge keeps time itself. */
	flags &= ~(uint32_t)(AVR_UART_FLAG_STDIO | AVR_UART_FLAG_POLL_SLEEP);
	avr_ioctl(avr, AVR_IOCTL_UART_SET_FLAGS('0'), &flags);
	avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUTPUT),
				on_uart_out, NULL);
	avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUT_XON),
				on_xon, NULL);
	avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUT_XOFF),
				on_xoff, NULL);
	for (int p = 0; p < 8; p++) {
		if (p < (w5100_mode ? 2 : 6)) /* D10..D13: the shield's SPI */
			avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ('B'), p),
						on_pin, (void *)(intptr_t)(8 + p));
		if (p >= 2)
			avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ('D'), p),
						on_pin, (void *)(intptr_t)p);
	}
	return avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_INPUT);
}

/* --tear-eeprom: after each instruction, the bytes it watches against what
 * they held; true (once) when the K-th change has just been made. */
static bool tear_due(void)
{
	static uint8_t was[64];
	static bool armed, done;
	static unsigned changes;
	const uint8_t *now;

	if (!opt.tear_k || done)
		return false;
	now = eeprom_bytes() + opt.tear_at;
	if (!armed) {
		memcpy(was, now, opt.tear_len);
		armed = true;
		return false;
	}
	for (unsigned i = 0; i < opt.tear_len; i++) {
		if (now[i] == was[i])
			continue;
		was[i] = now[i];
		if (++changes == opt.tear_k) {
			done = true;
			printf("tear at=%u cycle=%llu\n", opt.tear_at + i,
			       (unsigned long long)avr->cycle);
			return true;
		}
	}
	return false;
}

/* Up to 2,000 instructions, keeping the deepest stack seen; exits when the
 * firmware stops.  True when --tear-eeprom wants the part reset now. */
static bool run_slice(void)
{
	int state = cpu_Running;

	for (int i = 0; i < 2000 && state != cpu_Done && state != cpu_Crashed; i++) {
		uint16_t sp;

		state = avr_run(avr);
		if (tear_due())
			return true;
		sp = sp_now();
		/* Only with interrupts enabled and SP whole: a frame's SP update
		 * writes SPH and SPL apart, and in between SP can read up to 255
		 * bytes too low. */
		if (avr->sreg[S_I] && sp < sp_min && sp > avr->ioend && !next_writes_spl()) {
			sp_min = sp;
			sp_min_pc = avr->pc;
		}
	}
	if (state == cpu_Done || state == cpu_Crashed) {
		fprintf(stderr, "avr-bridge: the firmware stopped (%s)\n",
			state == cpu_Crashed ? "crashed" : "done");
		exit(1);
	}
	return false;
}

/* Wait for a client or its bytes, at most until real time catches up with
 * the simulation's (started at start_us and start_cycle). */
static void serve_io(int lfd, uint64_t start_us, uint64_t start_cycle)
{
	uint64_t sim_us = (avr->cycle - start_cycle) * 1000000u / freq;
	uint64_t real_us = now_us() - start_us;
	int timeout = !opt.unthrottled && sim_us > real_us + 2000 ? (int)((sim_us - real_us) / 1000) : 0;
	struct pollfd pfd = { .fd = client_fd >= 0 ? client_fd : lfd, .events = POLLIN };

	if (w5100_mode) {
		/* The model reads its sockets itself (w5100_model_poll). */
		pfd.fd = w5100_model_fd();
		if (timeout)
			poll(&pfd, 1, timeout);
		return;
	}
	if (poll(&pfd, 1, timeout) <= 0 || !(pfd.revents & (POLLIN | POLLHUP)))
		return;
	if (client_fd < 0) {
		int one = 1;

		client_fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (client_fd >= 0) {
			setsockopt(client_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			printf("connected\n");
			if (opt.reset_on_connect)
				want_reset = 1;
		}
	} else if (in_len < sizeof(in_buf)) {
		ssize_t n = read(client_fd, in_buf + in_len, sizeof(in_buf) - in_len);

		if (n <= 0 && opt.pty) {
			; /* nobody on the other side for now */
		} else if (n <= 0) {
			close(client_fd);
			client_fd = -1;
			printf("disconnected\n");
		} else if (avr->cycle < boot_until_cycle) {
			; /* the bootloader's: lost */
		} else {
			in_len += (size_t)n;
		}
	}
}

/* The RAM report line for a paint run of u bytes ending at last (the
 * program address only while running). */
static void report_ram(unsigned u, unsigned last, bool with_pc)
{
	if (with_pc)
		printf("ram untouched=%u stack=%u pc=0x%x paint_end=0x%x sp_min=0x%x\n", u,
		       avr->ramend - sp_min, sp_min_pc, last, sp_min);
	else
		printf("ram untouched=%u stack=%u paint_end=0x%x sp_min=0x%x\n", u,
		       avr->ramend - sp_min, last, sp_min);
}

int main(int argc, char **argv)
{
	static uint8_t ee[EEPROM_MAX];
	uint32_t ee_size;
	avr_irq_t *uart_in;
	int lfd = -1;
	uint64_t start_us, start_cycle, last_scan_us = 0;
	unsigned last_report = ~0u;

	parse_args(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	ee_size = start_part(ee);
	uart_in = wire_up();
	signal(SIGHUP, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	if (opt.pty)
		client_fd = open_pty();
	else if (w5100_mode)
		w5100_model_start(avr, listen_on(opt.w5100), opt.ring_start);
	else
		lfd = listen_on(opt.listen);
	start_us = now_us();
	start_cycle = avr->cycle;

	while (!want_stop) {
		if (run_slice()) {
			reset_keeping_eeprom(ee_size, opt.boot_delay_ms);
			continue;
		}
		if (w5100_mode)
			w5100_model_poll();
		serve_io(lfd, start_us, start_cycle);
		if (want_reset) {
			want_reset = 0;
			in_len = 0;
			reset_keeping_eeprom(ee_size, opt.boot_delay_ms);
		}
		/* Into the UART while it takes them. */
		while (in_len && uart_xon) {
			avr_raise_irq(uart_in, in_buf[0]);
			memmove(in_buf, in_buf + 1, --in_len);
			bridge_input_event();
		}
		/* The paint is read back every 100 ms, not every turn of this
		 * loop: a 2 KB scan per 2,000 instructions was most of the
		 * bridge's own work while the part idled.  A line only when the
		 * figure changed. */
		if (answered_since_input && last_in_cycle && now_us() - last_scan_us >= 100000) {
			unsigned last, u = untouched(&last);

			last_scan_us = now_us();
			if (u != last_report) {
				report_ram(u, last, true);
				last_report = u;
			}
		}
	}
	if (opt.eeprom_out) {
		FILE *f = fopen(opt.eeprom_out, "wb");

		eeprom_io(false, ee, ee_size);
		if (!f || fwrite(ee, 1, ee_size, f) != ee_size || fclose(f) != 0) {
			fprintf(stderr, "avr-bridge: %s: %s\n", opt.eeprom_out, strerror(errno));
			return 1;
		}
	}
	{
		unsigned last, u = untouched(&last);

		report_ram(u, last, false);
	}
	avr_terminate(avr);
	return 0;
}
