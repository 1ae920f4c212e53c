/* SPDX-License-Identifier: MIT */
/* Reading the provisioned layout (provision.h), the same for every board. */
#include "provision.h"

#include <stdbool.h>
#include <string.h>

/* Zero a secret in a way the compiler keeps. */
static void wipe(void *p, size_t n)
{
	memset(p, 0, n);
	__asm__ volatile("" : : "r"(p) : "memory");
}

static uint8_t byte_at(prov_read_fn read, uint16_t offset)
{
	uint8_t b;

	read(offset, &b, 1);
	return b;
}

int prov_config(prov_read_fn read, struct siot_dev_config *cfg)
{
	uint8_t magic[4], t[2];

	read(0, magic, sizeof(magic));
	if (memcmp(magic, PROV_MAGIC, sizeof(magic)) != 0 ||
	    byte_at(read, PROV_OFF_VERSION) != PROV_VERSION)
		return -1;
	read(PROV_OFF_TIMEOUT, t, sizeof(t));
	cfg->timeout_ms = (uint16_t)(t[0] | t[1] << 8);
	return siot_params_init(&cfg->params,
				byte_at(read, PROV_OFF_PROFILE) ? SIOT_PROFILE_CLASSIC
								: SIOT_PROFILE_V1,
				SIOT_HASH_SHA256, 0, 32, byte_at(read, PROV_OFF_WAKEUP)) == 0
		       ? 0
		       : -1;
}

int prov_network(prov_read_fn read, struct prov_network *net)
{
	uint8_t p[2], any_mac = 0, any_ip = 0;
	uint32_t mask;

	if (byte_at(read, PROV_OFF_NET) != 1)
		return -1;
	read(PROV_OFF_MAC, net->mac, sizeof(net->mac));
	read(PROV_OFF_IP, net->ip, sizeof(net->ip));
	read(PROV_OFF_NETMASK, net->netmask, sizeof(net->netmask));
	read(PROV_OFF_GATEWAY, net->gateway, sizeof(net->gateway));
	read(PROV_OFF_PORT, p, sizeof(p));
	net->port = (uint16_t)(p[0] | p[1] << 8);
	for (uint8_t i = 0; i < 6; i++)
		any_mac |= net->mac[i];
	for (uint8_t i = 0; i < 4; i++)
		any_ip |= net->ip[i];
	mask = (uint32_t)net->netmask[0] << 24 | (uint32_t)net->netmask[1] << 16 |
	       (uint32_t)net->netmask[2] << 8 | net->netmask[3];
	/* A prefix: the ones, then only zeros (~mask + 1 a power of two). */
	if (!any_mac || (net->mac[0] & 1) || !any_ip || !net->port || !mask ||
	    ((~mask + 1) & ~mask) != 0)
		return -1;
	return 0;
}

void prov_id(prov_read_fn read, uint8_t which, char *buf)
{
	buf[0] = '\0';
	if (which != 0 && which != SIOT_DEV_DEVICE_ID)
		return; /* one client in this layout */
	read(which == SIOT_DEV_DEVICE_ID ? PROV_OFF_DEVICE_ID : PROV_OFF_CLIENT_ID, buf, PROV_ID_SIZE);
	buf[PROV_ID_SIZE - 1] = '\0';
}

int prov_load_key(prov_read_fn read, uint8_t client, struct siot_key *key)
{
	uint8_t raw[SIOT_MAX_KEY];
	uint8_t len = byte_at(read, PROV_OFF_KEY_LEN);
	uint16_t at = PROV_OFF_KEY;
	int rc;

	if (client == SIOT_DEV_DUMMY_KEY) {
		len = PROV_DUMMY_LEN;
		at = PROV_OFF_DUMMY;
	} else if (client != 0 || len < SIOT_MIN_KEY || len > SIOT_MAX_KEY) {
		return -1;
	}
	read(at, raw, len);
	rc = siot_key_init(key, SIOT_HASH_SHA256, raw, len);
	wipe(raw, sizeof(raw));
	return rc;
}

/* Copy at offset: its count, and whether its complement matches. */
static bool boot_copy(prov_read_fn read, uint16_t offset, uint32_t *count)
{
	uint8_t b[PROV_BOOT_COPY];
	uint32_t c = 0, n = 0;

	read(offset, b, sizeof(b));
	for (int i = 3; i >= 0; i--) {
		c = c << 8 | b[i];
		n = n << 8 | b[4 + i];
	}
	*count = c;
	return (c ^ n) == 0xffffffffu;
}

int prov_boot_next(prov_read_fn read, prov_write_fn write, uint32_t *boot)
{
	uint32_t a, b, next, check;
	bool va = boot_copy(read, PROV_OFF_BOOT_A, &a), vb = boot_copy(read, PROV_OFF_BOOT_B, &b);
	uint16_t over;
	uint8_t out[PROV_BOOT_COPY];

	if (!va && !vb)
		return -1;
	if (va && (!vb || a >= b)) {
		next = a + 1;
		over = PROV_OFF_BOOT_B;
	} else {
		next = b + 1;
		over = PROV_OFF_BOOT_A;
	}
	if (next == 0)
		return -1; /* 2^32 boots: exhausted */
	for (int i = 0; i < 4; i++) {
		out[i] = (uint8_t)(next >> (8 * i));
		out[4 + i] = (uint8_t)(~next >> (8 * i));
	}
	write(over, out, sizeof(out));
	if (!boot_copy(read, over, &check) || check != next)
		return -1;
	*boot = next;
	return 0;
}

int prov_seed_drbg(prov_read_fn read, uint32_t boot, const uint8_t *entropy, size_t n)
{
	uint8_t seed[PROV_SEED_LEN], pers[12] = "siot boot ";
	int rc;

	pers[8] = (uint8_t)boot;
	pers[9] = (uint8_t)(boot >> 8);
	pers[10] = (uint8_t)(boot >> 16);
	pers[11] = (uint8_t)(boot >> 24);
	read(PROV_OFF_SEED, seed, sizeof(seed));
	rc = siot_drbg_seed(seed, sizeof(seed), pers, sizeof(pers));
	wipe(seed, sizeof(seed));
	if (rc == 0 && n)
		rc = siot_drbg_mix(entropy, n);
	return rc;
}
