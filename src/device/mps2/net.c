/* SPDX-License-Identifier: MIT */
/* lwIP on the LAN9118, and the core on its TCP: see net.h. */
#include "net.h"

#include <stdbool.h>
#include <string.h>

#include "lan9118.h"
#include "lwip/etharp.h"
#include "lwip/init.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "netif/ethernet.h"

/* siot-protocol(7): after the last answer, drain for up to 1 s. */
#define DRAIN_MS 1000

static struct netif nif;
static uint8_t mac[6];
static struct siot_device *dev;
static uint32_t (*clock_ms)(void);
static struct tcp_pcb *conn;   /* the connection being served */
static bool conn_fin;          /* and its peer has sent its FIN */
static struct tcp_pcb *drain;  /* the last one, answered, being drained */
static uint32_t drain_until;

u32_t sys_now(void)
{
	return clock_ms();
}

uint32_t siot_lwip_rand(void)
{
	static uint32_t x = 0x9e3779b9u;

	x ^= clock_ms();
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return x;
}

static err_t link_output(struct netif *n, struct pbuf *p)
{
	(void)n;
	if (lan9118_send_begin(p->tot_len) < 0)
		return ERR_MEM;
	for (struct pbuf *q = p; q; q = q->next)
		lan9118_send_bytes(q->payload, q->len);
	lan9118_send_end();
	return ERR_OK;
}

static err_t nif_init(struct netif *n)
{
	n->name[0] = 'e';
	n->name[1] = '0';
	n->hwaddr_len = 6;
	memcpy(n->hwaddr, mac, 6);
	n->mtu = 1500;
	n->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
	n->output = etharp_output;
	n->linkoutput = link_output;
	return ERR_OK;
}

/* Let pcb go, with its callbacks, closed or aborted. */
static void release(struct tcp_pcb *pcb)
{
	tcp_arg(pcb, NULL);
	tcp_recv(pcb, NULL);
	tcp_err(pcb, NULL);
	if (tcp_close(pcb) != ERR_OK)
		tcp_abort(pcb);
}

static void drain_done(void)
{
	if (drain)
		release(drain);
	drain = NULL;
}

/* The draining connection: what comes is read and dropped, until the peer's
 * FIN (or the deadline, net_poll). */
static err_t on_drain_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
	(void)arg, (void)err;
	if (!p) {
		drain_done(); /* the peer's FIN: nothing more to drain */
		return ERR_OK;
	}
	tcp_recved(pcb, p->tot_len);
	pbuf_free(p);
	return ERR_OK;
}

static void on_drain_err(void *arg, err_t err)
{
	(void)arg, (void)err;
	drain = NULL; /* lwIP has freed it */
}

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
	(void)arg, (void)err;
	if (!p) {
		conn_fin = true;
		siot_device_input_end(dev); /* may close: net_close */
		return ERR_OK;
	}
	tcp_recved(pcb, p->tot_len);
	/* The core may close the connection in the middle (its request done,
	 * or malformed): the rest is not read. */
	for (struct pbuf *q = p; q && conn == pcb; q = q->next)
		siot_device_input(dev, q->payload, q->len, clock_ms());
	pbuf_free(p);
	return ERR_OK;
}

static void on_err(void *arg, err_t err)
{
	(void)arg, (void)err;
	conn = NULL; /* reset by the peer (lwIP has freed it) */
	siot_device_disconnect(dev);
}

static err_t on_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
	(void)arg;
	if (err != ERR_OK || !pcb)
		return ERR_VAL;
	if (conn) {
		tcp_abort(pcb); /* one at a time: refused, with a reset */
		return ERR_ABRT;
	}
	conn = pcb;
	conn_fin = false;
	tcp_nagle_disable(pcb);
	tcp_recv(pcb, on_recv);
	tcp_err(pcb, on_err);
	siot_device_connect(dev, clock_ms()); /* the HELLO now, or after the wake-up */
	return ERR_OK;
}

void net_send(const uint8_t *buf, size_t len)
{
	if (!conn || tcp_write(conn, buf, (u16_t)len, TCP_WRITE_FLAG_COPY) != ERR_OK)
		return; /* gone: on_err has told the core */
	tcp_output(conn);
}

void net_close(void)
{
	struct tcp_pcb *pcb = conn;

	if (!pcb)
		return;
	conn = NULL;
	drain_done(); /* an older one still draining: closed now */
	drain = pcb;
	drain_until = clock_ms() + DRAIN_MS;
	tcp_recv(pcb, on_drain_recv);
	tcp_err(pcb, on_drain_err);
	tcp_shutdown(pcb, 0, 1); /* our FIN, after the answer */
	if (conn_fin)
		drain_done(); /* the peer's came already */
}

int net_start(const struct prov_network *pn, struct siot_device *d, uint32_t (*now)(void))
{
	ip4_addr_t ip, mask, gw;
	struct tcp_pcb *l;

	dev = d;
	clock_ms = now;
	memcpy(mac, pn->mac, sizeof(mac));
	if (lan9118_init(mac) < 0)
		return -1;
	lwip_init();
	IP4_ADDR(&ip, pn->ip[0], pn->ip[1], pn->ip[2], pn->ip[3]);
	IP4_ADDR(&mask, pn->netmask[0], pn->netmask[1], pn->netmask[2], pn->netmask[3]);
	IP4_ADDR(&gw, pn->gateway[0], pn->gateway[1], pn->gateway[2], pn->gateway[3]);
	if (!netif_add(&nif, &ip, &mask, &gw, NULL, nif_init, ethernet_input))
		return -1;
	netif_set_default(&nif);
	netif_set_link_up(&nif);
	netif_set_up(&nif);
	l = tcp_new();
	if (!l || tcp_bind(l, IP4_ADDR_ANY, pn->port) != ERR_OK)
		return -1;
	l = tcp_listen_with_backlog(l, 1);
	if (!l)
		return -1;
	tcp_accept(l, on_accept);
	return 0;
}

bool net_poll(void)
{
	static uint8_t frame[1514];
	size_t n = lan9118_receive(frame, sizeof(frame));

	if (n) {
		struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)n, PBUF_POOL);

		if (p) {
			pbuf_take(p, frame, (u16_t)n);
			if (nif.input(p, &nif) != ERR_OK)
				pbuf_free(p);
		}
	}
	sys_check_timeouts();
	if (drain && (int32_t)(clock_ms() - drain_until) >= 0)
		drain_done();
	siot_device_tick(dev, clock_ms());
	return n != 0;
}
