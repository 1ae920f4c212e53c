/* SPDX-License-Identifier: MIT */
/*
 * The W5100 model (w5100-model.h).  From the W5100 datasheet (v1.2.x):
 *
 * - SPI frames of 4 bytes under one chip select: 0xF0 (write) or 0x0F
 *   (read), the address's high and low bytes, the data; the chip answers
 *   0x00, 0x01, 0x02, then the data read (or 0x03).
 * - The common registers MR (bit 7: reset, self-clearing), GAR, SUBR, SHAR,
 *   SIPR, IR, IMR, RTR, RCR, RMSR and TMSR; socket 0's registers at 0x0400
 *   (MR, CR, IR, SR, PORT, DHAR, DIPR, DPORT, MSSR, PROTO, TOS, TTL,
 *   TX_FSR, TX_RD, TX_WR, RX_RSR, RX_RD); 8 KB of TX memory at 0x4000 and
 *   of RX memory at 0x6000, socket 0's ring the first 1, 2, 4 or 8 KB of
 *   each as RMSR and TMSR's low two bits say (2 KB at reset).
 * - Socket commands in Sn_CR, which clears itself when the chip has taken
 *   the command: OPEN (CLOSED -> INIT, in TCP mode), LISTEN (INIT ->
 *   LISTEN; the rings start empty, their pointers where they were), SEND,
 *   RECV, DISCON and CLOSE.  A connection comes in as
 *   LISTEN -> SYNRECV -> ESTABLISHED (Sn_IR CON); the peer's FIN makes it
 *   CLOSE_WAIT (Sn_IR DISCON); DISCON goes ESTABLISHED -> FIN_WAIT ->
 *   TIME_WAIT -> CLOSED, or CLOSE_WAIT -> LAST_ACK -> CLOSED; a reset from
 *   the peer, CLOSED.  SEND sends Sn_TX_WR - Sn_TX_RD bytes and sets
 *   SEND_OK in Sn_IR when they are out; RECV frees what Sn_RX_RD moved
 *   past.  Sn_IR's bits clear when written with 1.
 *
 * Each socket command is taken when the driver first reads Sn_CR after
 * writing it: the read returns the command, the next one 0.  A command
 * that was right for the state the driver last read in Sn_SR, but not for
 * the one the chip has since moved to by itself (a peer's reset just
 * before a RECV), is ignored, as the chip does: no driver can avoid that
 * race.
 *
 * It must not agree with a wrong driver.  It prints "w5100: FAIL REASON
 * addr=A pc=P" and exits 3 on: a frame that is not 4 bytes or has another
 * opcode; a read or write of a register it does not model (sockets 1..3,
 * reserved addresses); a write to a read-only register; a command in a
 * state the datasheet does not allow it in, or an unknown one; any access
 * to socket 0 but a read of Sn_CR while Sn_CR has not cleared; a read of
 * RX memory outside socket 0's ring or past what was received; a write of
 * TX memory outside the ring or over bytes a SEND has not sent yet; a SEND
 * of more than the ring holds, or before the last one's SEND_OK; a RECV
 * that frees more than was received.
 */
#include "w5100-model.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <avr_ioport.h>
#include <avr_spi.h>
#include <sim_irq.h>

enum { CLOSED = 0x00, INIT = 0x13, LISTEN = 0x14, SYNRECV = 0x16, ESTABLISHED = 0x17,
       FIN_WAIT = 0x18, TIME_WAIT = 0x1B, CLOSE_WAIT = 0x1C, LAST_ACK = 0x1D };
enum { CR_OPEN = 0x01, CR_LISTEN = 0x02, CR_CONNECT = 0x04, CR_DISCON = 0x08, CR_CLOSE = 0x10,
       CR_SEND = 0x20, CR_SEND_MAC = 0x21, CR_SEND_KEEP = 0x22, CR_RECV = 0x40 };
enum { IR_CON = 0x01, IR_DISCON = 0x02, IR_RECV = 0x04, IR_SEND_OK = 0x10 };

#define S0 0x0400
#define TX_MEM 0x4000
#define RX_MEM 0x6000
/* How long the chip's own steps take, in microseconds of the part's time. */
#define STEP_US 500

static struct {
	avr_t *avr;
	avr_irq_t *spi_in;
	int lfd, cfd;
	uint16_t ring_start;
	bool selected;
	uint8_t frame[4];
	unsigned nframe;
	uint8_t common[0x1C];   /* 0x0000 .. 0x001B */
	uint8_t sreg[0x17];     /* socket 0's 0x0400 .. 0x0416 */
	uint8_t mem[0x4000];    /* TX at 0x4000, RX at 0x6000 */
	uint8_t sr, ir, cr;     /* Sn_SR, Sn_IR, Sn_CR (a command not yet taken) */
	uint8_t sr_seen;        /* Sn_SR as the driver last read it */
	uint16_t tx_rd, tx_wr, rx_rd, rx_taken, rx_wr;
	uint16_t sending;       /* a SEND's bytes not yet out */
	uint64_t step_at;       /* a transient state's or a SEND's end, cycles */
} m = { .lfd = -1, .cfd = -1 };

static void fail(const char *why, uint16_t addr)
{
	printf("w5100: FAIL %s addr=0x%04x pc=0x%x\n", why, addr, m.avr->pc);
	fflush(stdout);
	exit(3);
}

static uint16_t ring_size(uint8_t msr)
{
	return (uint16_t)(1024u << (msr & 3));
}

static uint16_t rx_size(void) { return ring_size(m.common[0x1A]); }
static uint16_t tx_size(void) { return ring_size(m.common[0x1B]); }
static uint16_t rsr(void) { return (uint16_t)(m.rx_wr - m.rx_taken); }
static uint16_t fsr(void) { return (uint16_t)(tx_size() - m.sending); }

static uint64_t step(void)
{
	return m.avr->cycle + (uint64_t)STEP_US * m.avr->frequency / 1000000u;
}

static void drop_peer(void)
{
	if (m.cfd >= 0)
		close(m.cfd);
	m.cfd = -1;
}

static void chip_reset(void)
{
	drop_peer();
	memset(m.common, 0, sizeof(m.common));
	memset(m.sreg, 0, sizeof(m.sreg));
	m.common[0x17] = 0x07; /* RTR: 2000 (200 ms) */
	m.common[0x18] = 0xD0;
	m.common[0x19] = 0x08; /* RCR */
	m.common[0x1A] = 0x55; /* RMSR, TMSR: 2 KB a socket */
	m.common[0x1B] = 0x55;
	m.sreg[0x16] = 0x80;   /* TTL */
	m.sr = m.sr_seen = CLOSED;
	m.ir = m.cr = 0;
	m.tx_rd = m.tx_wr = m.rx_rd = m.rx_taken = m.rx_wr = m.ring_start;
	m.sending = 0;
}

void w5100_model_reset(void)
{
	m.selected = false;
	m.nframe = 0;
	chip_reset();
}

static void set_state(uint8_t sr)
{
	m.sr = sr;
	m.step_at = step();
}

static bool connected(uint8_t sr)
{
	return sr == ESTABLISHED || sr == CLOSE_WAIT;
}

/* Whether cmd may be given in state sr (the datasheet's table). */
static bool allowed(uint8_t cmd, uint8_t sr)
{
	switch (cmd) {
	case CR_OPEN: return sr == CLOSED;
	case CR_LISTEN: return sr == INIT;
	case CR_DISCON: case CR_SEND: return connected(sr);
	case CR_RECV: return connected(sr) || sr == FIN_WAIT;
	default: return true;
	}
}

/* A command, taken: checked against the state, then done. */
static void take(uint8_t cmd)
{
	uint16_t n;

	/* The chip changes state on its own (a peer's reset, its FIN): a
	 * command right for the state the driver last read, given just
	 * after, is not the driver's fault.  The chip ignores it. */
	if (!allowed(cmd, m.sr) && allowed(cmd, m.sr_seen) && m.sr != m.sr_seen) {
		printf("w5100 ignored command 0x%02x: the socket went from 0x%02x to 0x%02x\n", cmd,
		       m.sr_seen, m.sr);
		return;
	}
	switch (cmd) {
	case CR_OPEN:
		if (m.sr != CLOSED)
			fail("OPEN while the socket is not CLOSED", S0 + 1);
		if ((m.sreg[0] & 0x0F) != 0x01)
			fail("OPEN in a mode other than TCP (Sn_MR), which this model does not have", S0);
		if (!m.sreg[4] && !m.sreg[5])
			fail("OPEN with Sn_PORT 0", S0 + 4);
		/* The rings start empty where their pointers are. */
		m.ir = 0;
		m.rx_taken = m.rx_rd = m.rx_wr;
		m.tx_wr = m.tx_rd;
		m.sending = 0;
		set_state(INIT);
		break;
	case CR_LISTEN:
		if (m.sr != INIT)
			fail("LISTEN while the socket is not INIT", S0 + 1);
		printf("w5100 listen port=%u\n", m.sreg[4] << 8 | m.sreg[5]);
		set_state(LISTEN);
		break;
	case CR_DISCON:
		if (!allowed(cmd, m.sr))
			fail("DISCON while not connected", S0 + 1);
		if (m.cfd >= 0)
			shutdown(m.cfd, SHUT_WR);
		set_state(m.sr == ESTABLISHED ? FIN_WAIT : LAST_ACK);
		break;
	case CR_CLOSE:
		drop_peer();
		m.sending = 0;
		set_state(CLOSED);
		break;
	case CR_SEND:
		if (!allowed(cmd, m.sr))
			fail("SEND while not connected", S0 + 1);
		if (m.sending)
			fail("SEND before the last SEND's SEND_OK", S0 + 1);
		n = (uint16_t)(m.tx_wr - m.tx_rd);
		if (n == 0 || n > tx_size())
			fail("SEND of Sn_TX_WR - Sn_TX_RD bytes: none, or more than the ring", S0 + 0x24);
		m.sending = n;
		m.step_at = step();
		break;
	case CR_RECV:
		if (!allowed(cmd, m.sr))
			fail("RECV while not connected", S0 + 1);
		if ((uint16_t)(m.rx_rd - m.rx_taken) > rsr())
			fail("RECV past what was received (Sn_RX_RD beyond Sn_RX_RSR)", S0 + 0x28);
		m.rx_taken = m.rx_rd;
		break;
	case CR_CONNECT:
	case CR_SEND_MAC:
	case CR_SEND_KEEP:
		fail("a command this model does not have (a TCP server needs none of it)", S0 + 1);
		break;
	default:
		fail("an unknown command", S0 + 1);
	}
}

static bool readable_common(uint16_t a)
{
	return a <= 0x12 || (a >= 0x15 && a <= 0x1B);
}

static bool socket0_reg(uint16_t a)
{
	return (a >= S0 && a <= S0 + 0x16) || (a >= S0 + 0x20 && a <= S0 + 0x29);
}

static uint8_t read_reg(uint16_t a)
{
	uint16_t v;

	if (a == 0)
		return m.common[0]; /* MR: the reset bit already cleared */
	if (a == 0x15)
		return m.ir ? 0x01 : 0x00; /* IR: socket 0's interrupt */
	if (a < S0)
		return m.common[a];
	switch (a - S0) {
	case 0x01:
		if (m.cr) {
			uint8_t c = m.cr;

			m.cr = 0;
			take(c);
			return c;
		}
		return 0;
	case 0x02: return m.ir;
	case 0x03: return m.sr_seen = m.sr;
	case 0x20: case 0x21: v = fsr(); break;
	case 0x22: case 0x23: v = m.tx_rd; break;
	case 0x24: case 0x25: v = m.tx_wr; break;
	case 0x26: case 0x27: v = rsr(); break;
	case 0x28: case 0x29: v = m.rx_rd; break;
	default: return m.sreg[a - S0];
	}
	return (a & 1) ? (uint8_t)v : (uint8_t)(v >> 8);
}

static void set16(uint16_t *r, uint16_t a, uint8_t v)
{
	*r = (a & 1) ? (uint16_t)((*r & 0xFF00) | v) : (uint16_t)((*r & 0x00FF) | v << 8);
}

static void write_reg(uint16_t a, uint8_t v)
{
	if (a == 0) {
		if (v & 0x80)
			chip_reset();
		else if (v)
			fail("MR: a mode this model does not have (PPPoE, ping block, indirect bus)", a);
		return;
	}
	if (a == 0x15) {
		m.ir = 0;
		return;
	}
	if (a < S0) {
		m.common[a] = v;
		return;
	}
	switch (a - S0) {
	case 0x00:
		if (m.sr != CLOSED)
			fail("Sn_MR written while the socket is open", a);
		m.sreg[0] = v;
		return;
	case 0x01:
		m.cr = v;
		return;
	case 0x02: m.ir &= (uint8_t)~v; return;
	case 0x03:
	case 0x20: case 0x21: case 0x22: case 0x23: case 0x26: case 0x27:
		fail("a write to a read-only register", a);
		return;
	case 0x24: case 0x25: set16(&m.tx_wr, a, v); return;
	case 0x28: case 0x29: set16(&m.rx_rd, a, v); return;
	case 0x04: case 0x05:
		if (m.sr != CLOSED && m.sr != INIT)
			fail("Sn_PORT written while the socket is open", a);
		m.sreg[a - S0] = v;
		return;
	default: m.sreg[a - S0] = v;
	}
}

/* A byte of socket 0's TX or RX memory. */
static uint8_t memory(uint16_t a, bool write, uint8_t v)
{
	bool tx = a < RX_MEM;
	uint16_t base = tx ? TX_MEM : RX_MEM, size = tx ? tx_size() : rx_size();
	uint16_t off = (uint16_t)(a - base), mask = (uint16_t)(size - 1);

	if (off >= size)
		fail(tx ? "TX memory outside socket 0's ring (no wrap-around?)"
			: "RX memory outside socket 0's ring (no wrap-around?)", a);
	if (tx) {
		if (!write)
			return m.mem[a - TX_MEM];
		if (((off - m.tx_rd) & mask) < m.sending)
			fail("TX memory written over bytes a SEND has not sent yet", a);
		m.mem[a - TX_MEM] = v;
		return 0;
	}
	if (write)
		fail("a write to RX memory", a);
	if (((off - m.rx_taken) & mask) >= rsr())
		fail("RX memory read past what was received", a);
	return m.mem[a - TX_MEM];
}

static uint8_t chip_access(bool write, uint16_t a, uint8_t v)
{
	if (m.cr && socket0_reg(a) && !(a == S0 + 1 && !write))
		fail(write && a == S0 + 1 ? "Sn_CR written before the last command cleared"
					  : "socket 0 used before Sn_CR cleared", a);
	if (a >= TX_MEM)
		return memory(a, write, v);
	if (!(a < S0 ? readable_common(a) : socket0_reg(a)))
		fail(write ? "a write to a register this model does not have"
			   : "a read of a register this model does not have", a);
	if (write) {
		write_reg(a, v);
		return 0;
	}
	return read_reg(a);
}

static void on_spi(struct avr_irq_t *irq, uint32_t value, void *param)
{
	uint8_t out;

	(void)irq, (void)param;
	if (!m.selected) {
		avr_raise_irq(m.spi_in, 0xFF); /* the W5100 lets MISO go */
		return;
	}
	if (m.nframe >= 4)
		fail("bad frame: more than 4 bytes under one chip select", 0);
	m.frame[m.nframe] = (uint8_t)value;
	out = (uint8_t)m.nframe;
	if (m.nframe == 0 && value != 0xF0 && value != 0x0F)
		fail("bad frame: an opcode other than 0xF0 (write) or 0x0F (read)", 0);
	if (m.nframe == 3)
		out = chip_access(m.frame[0] == 0xF0, (uint16_t)(m.frame[1] << 8 | m.frame[2]), m.frame[3]);
	if (m.nframe == 3 && m.frame[0] == 0xF0)
		out = 3;
	m.nframe++;
	avr_raise_irq(m.spi_in, out);
}

static void on_select(struct avr_irq_t *irq, uint32_t value, void *param)
{
	(void)irq, (void)param;
	if (!(value & 1)) {
		m.selected = true;
		m.nframe = 0;
		return;
	}
	if (m.selected && m.nframe && m.nframe != 4)
		fail("bad frame: chip select released after fewer than 4 bytes", 0);
	m.selected = false;
}

void w5100_model_start(avr_t *avr, int lfd, uint16_t ring_start)
{
	m.avr = avr;
	m.ring_start = ring_start;
	m.lfd = lfd;
	fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) | O_NONBLOCK); /* accepted when LISTEN */
	chip_reset();
	m.spi_in = avr_io_getirq(avr, AVR_IOCTL_SPI_GETIRQ(0), SPI_IRQ_INPUT);
	avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_SPI_GETIRQ(0), SPI_IRQ_OUTPUT),
				on_spi, NULL);
	avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ('B'), 2), on_select, NULL);
}

/* The peer's bytes into the RX ring, as far as it has room. */
static void receive(void)
{
	uint16_t size = rx_size(), room = (uint16_t)(size - rsr());
	uint8_t buf[2048];
	ssize_t n;

	if (!room)
		return;
	n = recv(m.cfd, buf, room < sizeof(buf) ? room : sizeof(buf), MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n > 0) {
		for (ssize_t i = 0; i < n; i++)
			m.mem[RX_MEM - TX_MEM + ((m.rx_wr + i) & (size - 1))] = buf[i];
		m.rx_wr = (uint16_t)(m.rx_wr + n);
		m.ir |= IR_RECV;
		bridge_input_event();
		return;
	}
	if (n == 0 && m.sr == ESTABLISHED) {
		m.ir |= IR_DISCON; /* the peer's FIN */
		set_state(CLOSE_WAIT);
	} else if (n == 0 && m.sr == FIN_WAIT) {
		set_state(TIME_WAIT);
	} else if (n < 0) {
		drop_peer(); /* reset by the peer */
		m.ir |= IR_DISCON;
		m.sending = 0;
		set_state(CLOSED);
	}
}

/* A SEND's bytes, out of the ring to the peer. */
static void send_out(void)
{
	uint16_t mask = (uint16_t)(tx_size() - 1);
	uint8_t buf[8192];

	for (uint16_t i = 0; i < m.sending; i++)
		buf[i] = m.mem[(m.tx_rd + i) & mask];
	bridge_output_event();
	if (m.cfd >= 0 && send(m.cfd, buf, m.sending, MSG_NOSIGNAL) != m.sending) {
		drop_peer();
		m.ir |= IR_DISCON;
		set_state(CLOSED);
	} else {
		m.ir |= IR_SEND_OK;
	}
	m.tx_rd = (uint16_t)(m.tx_rd + m.sending);
	m.sending = 0;
}

void w5100_model_poll(void)
{
	bool due = m.avr->cycle >= m.step_at;

	if (m.sending && due)
		send_out();
	switch (m.sr) {
	case LISTEN: {
		int fd = accept4(m.lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK), one = 1;

		if (fd < 0)
			break;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		m.cfd = fd;
		printf("connected\n");
		set_state(SYNRECV);
		break;
	}
	case SYNRECV:
		if (due) {
			m.ir |= IR_CON;
			set_state(ESTABLISHED);
		}
		break;
	case ESTABLISHED:
	case FIN_WAIT:
		receive();
		break;
	case TIME_WAIT:
	case LAST_ACK:
		if (due) {
			drop_peer();
			m.ir |= IR_DISCON;
			set_state(CLOSED);
			printf("disconnected\n");
		}
		break;
	default:
		break;
	}
}

int w5100_model_fd(void)
{
	if (m.sr == LISTEN)
		return m.lfd;
	if (m.sr == ESTABLISHED || m.sr == FIN_WAIT)
		return m.cfd;
	return -1;
}
