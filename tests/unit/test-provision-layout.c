/* SPDX-License-Identifier: MIT */
/*
 * The firmware's reading of its provisioned layout (src/device/provision.c)
 * on the host: the network block, and what it refuses.  The offsets are
 * provision.h's, which tests/unit/test_provision.py checks provision.py
 * writes to.
 */
#include <check.h>
#include <string.h>

#include "provision.h"
#include "check-run.h"

static uint8_t image[PROV_SIZE];

static void image_read(uint16_t offset, void *out, size_t len)
{
	ck_assert_uint_le(offset + len, sizeof(image));
	memcpy(out, image + offset, len);
}

/* A valid block: 02:00:5e:10:00:01, 10.0.2.15/24 via 10.0.2.2, port 7468. */
static void good_block(void)
{
	static const uint8_t block[] = { 1, 0x02, 0x00, 0x5e, 0x10, 0x00, 0x01, 10, 0, 2, 15,
					 255, 255, 255, 0, 10, 0, 2, 2, 0x2c, 0x1d };

	memset(image, 0xff, sizeof(image));
	memcpy(image + PROV_OFF_NET, block, sizeof(block));
}

START_TEST(network_block_read)
{
	struct prov_network net;

	good_block();
	ck_assert_int_eq(prov_network(image_read, &net), 0);
	ck_assert_mem_eq(net.mac, "\x02\x00\x5e\x10\x00\x01", 6);
	ck_assert_mem_eq(net.ip, "\x0a\x00\x02\x0f", 4);
	ck_assert_mem_eq(net.netmask, "\xff\xff\xff\x00", 4);
	ck_assert_mem_eq(net.gateway, "\x0a\x00\x02\x02", 4);
	ck_assert_uint_eq(net.port, 7468);
}
END_TEST

START_TEST(network_block_refused)
{
	struct prov_network net;

	memset(image, 0xff, sizeof(image)); /* erased: none */
	ck_assert_int_eq(prov_network(image_read, &net), -1);
	good_block();
	image[PROV_OFF_MAC] = 0x01; /* multicast */
	ck_assert_int_eq(prov_network(image_read, &net), -1);
	good_block();
	memset(image + PROV_OFF_MAC, 0, 6);
	ck_assert_int_eq(prov_network(image_read, &net), -1);
	good_block();
	memset(image + PROV_OFF_IP, 0, 4);
	ck_assert_int_eq(prov_network(image_read, &net), -1);
	good_block();
	image[PROV_OFF_NETMASK + 1] = 0; /* 255.0.255.0 */
	ck_assert_int_eq(prov_network(image_read, &net), -1);
	good_block();
	memset(image + PROV_OFF_NETMASK, 0, 4);
	ck_assert_int_eq(prov_network(image_read, &net), -1);
	good_block();
	image[PROV_OFF_PORT] = image[PROV_OFF_PORT + 1] = 0;
	ck_assert_int_eq(prov_network(image_read, &net), -1);
	good_block();
	memset(image + PROV_OFF_NETMASK, 0xff, 4); /* /32 serves */
	ck_assert_int_eq(prov_network(image_read, &net), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("provision");
	TCase *tc = tcase_create("network");

	tcase_add_test(tc, network_block_read);
	tcase_add_test(tc, network_block_refused);
	suite_add_tcase(s, tc);
	return check_run(s);
}
