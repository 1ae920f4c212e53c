/* SPDX-License-Identifier: MIT */
/* Server side: the REQUEST parser fed in chunks, then the candidate scan and
 * the response builder, as siotd runs them. */
#include "fuzz-common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const decoys[] = { "decoy-a", "decoy-b" };
	struct fuzz_setup s;
	struct siot_exchange ex;
	static uint8_t out[SIOT_MAX_RESPONSE];
	static uint8_t output[64] = "fuzz output";
	size_t used, match = 0;
	const char *commands[3];
	enum siot_feed f;
	int r;

	if (size < 2)
		return 0;
	fuzz_setup(&s, data[1]);
	siot_exchange_init(&ex, &s.params);
	if (siot_server_hello(&ex, s.device_id, s.challenge) < 0)
		abort();
	f = fuzz_feed(siot_server_feed, &ex, data + 2, size - 2, data[0] % 17, &used);
	if (f == SIOT_FEED_MALFORMED && ex.reason != SIOT_REASON_ID_LENGTH)
		abort();
	if (f != SIOT_FEED_DONE)
		goto out;

	commands[0] = decoys[0];
	commands[1] = s.command;
	commands[2] = decoys[1];
	if (s.params.profile == SIOT_PROFILE_CLASSIC) {
		struct siot_candidate c[3] = {
			{ &s.key, commands[0] }, { &s.key, commands[1] }, { &s.key, commands[2] }
		};
		r = siot_server_scan_classic(&ex, c, 3, &match);
		if (r < 0 || ex.macs != 3 || (r == 1 && match > 2))
			abort();
		if (siot_server_response_classic(&ex, &s.key, 0, out) <= 0)
			abort();
	} else {
		r = siot_server_scan(&ex, &s.key, commands, 3, &match);
		if (r < 0 || ex.macs != 3 || (r == 1 && match > 2))
			abort();
		if (siot_server_response(&ex, &s.key, r ? 0 : 2, 0, output, r ? 11 : 0, out,
					 sizeof(out)) <= 0)
			abort();
	}
out:
	siot_exchange_wipe(&ex);
	siot_key_wipe(&s.key);
	return 0;
}
