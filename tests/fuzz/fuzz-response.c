/* SPDX-License-Identifier: MIT */
/* Client side: a HELLO parsed from the input, the request built for it, then
 * the rest of the input as the RESPONSE, verified by the 256-value search and
 * opened, as siot-ctl runs them. */
#include "fuzz-common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_setup s;
	struct siot_exchange ex;
	static uint8_t req[SIOT_MAX_REQUEST], plain[SIOT_MAX_OUTPUT];
	size_t used, used2, chunk, plain_len = 0;
	uint8_t result = 0;
	enum siot_feed f;
	int r;

	if (size < 2)
		return 0;
	fuzz_setup(&s, data[1]);
	chunk = data[0] % 17;
	data += 2;
	size -= 2;
	siot_exchange_init(&ex, &s.params);
	f = fuzz_feed(siot_client_feed_hello, &ex, data, size, chunk, &used);
	if (f != SIOT_FEED_DONE)
		goto out;
	if (s.params.profile == SIOT_PROFILE_V1 &&
	    (ex.device_id_len < 1 || ex.device_id_len > SIOT_MAX_ID ||
	     strlen(ex.device_id) != ex.device_id_len))
		abort();
	r = siot_client_request(&ex, &s.key, s.client_id, s.command, req, sizeof(req));
	if (r <= 0)
		abort();
	f = fuzz_feed(siot_client_feed_response, &ex, data + used, size - used, chunk, &used2);
	if (f == SIOT_FEED_MALFORMED && ex.reason != SIOT_REASON_OUTPUT_LENGTH)
		abort();
	if (f != SIOT_FEED_DONE)
		goto out;
	r = siot_client_verify(&ex, &s.key, &result, plain, &plain_len);
	if (r != 0 && r != -EBADMSG)
		abort();
	if (r == 0 && plain_len != ex.output_len)
		abort();
out:
	siot_exchange_wipe(&ex);
	siot_key_wipe(&s.key);
	return 0;
}
