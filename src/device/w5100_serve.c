/* SPDX-License-Identifier: MIT */
/* The device core on a W5100: see w5100_serve.h. */
#include "w5100_serve.h"

#include <string.h>

/* siot-protocol(7): after the last answer, drain for up to 1 s. */
#define DRAIN_MS 1000

int w5100_serve_start(struct w5100_server *s, const struct prov_network *net,
		      struct siot_device *dev, uint32_t (*now)(void))
{
	struct w5100_net a;

	memcpy(a.mac, net->mac, sizeof(a.mac));
	memcpy(a.ip, net->ip, sizeof(a.ip));
	memcpy(a.netmask, net->netmask, sizeof(a.netmask));
	memcpy(a.gateway, net->gateway, sizeof(a.gateway));
	*s = (struct w5100_server){ .dev = dev, .now = now, .port = net->port };
	return w5100_init(&a);
}

void w5100_serve(struct w5100_server *s)
{
	uint8_t sr = w5100_status();
	bool open = sr == W5100_ESTABLISHED || sr == W5100_CLOSE_WAIT;

	if (s->peer && !open) {
		/* Reset by the peer, or timed out: the exchange is lost. */
		siot_device_disconnect(s->dev);
		s->peer = false;
	}
	switch (sr) {
	case W5100_CLOSED:
		(void)w5100_listen(s->port); /* failed: again next turn */
		return;
	case W5100_ESTABLISHED:
	case W5100_CLOSE_WAIT:
		if (!s->peer) {
			s->peer = true;
			siot_device_connect(s->dev, s->now()); /* may close at once */
			return;
		}
		{
			uint16_t n = w5100_available();
			uint8_t chunk[16];

			if (n) {
				if (n > sizeof(chunk))
					n = sizeof(chunk);
				w5100_read(chunk, n);
				siot_device_input(s->dev, chunk, n, s->now());
				return;
			}
		}
		/* Everything read, and the peer sent its FIN. */
		if (sr == W5100_CLOSE_WAIT)
			siot_device_input_end(s->dev);
		break;
	case W5100_LISTEN:
	case W5100_SYNRECV:
	case W5100_FIN_WAIT:
	case W5100_CLOSING:
	case W5100_TIME_WAIT:
	case W5100_LAST_ACK:
		break; /* the chip moves on by itself */
	default:
		/* INIT (an OPEN whose LISTEN did not follow), or a mode this
		 * server never set: start again. */
		(void)w5100_listen(s->port);
		return;
	}
	siot_device_tick(s->dev, s->now());
}

void w5100_serve_send(struct w5100_server *s, const uint8_t *buf, size_t len)
{
	(void)s;
	/* A peer gone in the middle: the next turn sees the socket closed. */
	(void)w5100_write(buf, (uint16_t)len);
}

void w5100_serve_close(struct w5100_server *s)
{
	w5100_close(s->now, DRAIN_MS);
	s->peer = false;
}
