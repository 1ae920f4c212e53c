/* SPDX-License-Identifier: MIT */
#include "utf8.h"

#include <locale.h>
#include <pthread.h>
#include <string.h>
#include <wchar.h>

static locale_t utf8_l;

static void utf8_make_locale(void)
{
	utf8_l = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

/* C.UTF-8, made once (a group send checks targets from several threads);
 * (locale_t)0 when this C library has none, and then nothing is taken as
 * UTF-8 (a terminal gets \xNN escapes, --json base64). */
static locale_t utf8_locale(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, utf8_make_locale);
	return utf8_l;
}

int utf8_decode(const uint8_t *s, size_t n, uint32_t *cp)
{
	locale_t l = utf8_locale(), old;
	mbstate_t st;
	wchar_t wc = 0;
	size_t len;

	if (!l || n == 0)
		return -1;
	memset(&st, 0, sizeof(st));
	old = uselocale(l);
	len = mbrtowc(&wc, (const char *)s, n < 4 ? n : 4, &st);
	uselocale(old);
	/* (size_t)-1 invalid, -2 truncated; 0 is a NUL, one byte long. */
	if (len == (size_t)-1 || len == (size_t)-2 || (uint32_t)wc > 0x10ffff)
		return -1;
	*cp = (uint32_t)wc;
	return len == 0 ? 1 : (int)len;
}

bool utf8_valid(const uint8_t *s, size_t n)
{
	uint32_t cp;

	for (size_t i = 0; i < n;) {
		int len = s[i] < 0x80 ? 1 : utf8_decode(s + i, n - i, &cp);

		if (len < 0)
			return false;
		i += (size_t)len;
	}
	return true;
}

const char *utf8_topic_problem(const char *s)
{
	size_t n = strlen(s);
	uint32_t cp;

	if (n == 0 || n > 128)
		return "it must be 1 to 128 bytes long";
	if (s[0] == '$')
		return "a topic that starts with $ is the broker's own";
	if (s[0] == '/' || s[n - 1] == '/')
		return "it must not start or end with /";
	for (size_t i = 0; i < n;) {
		int len = utf8_decode((const uint8_t *)s + i, n - i, &cp);

		if (len < 0)
			return "it is not UTF-8";
		if (cp == '+' || cp == '#')
			return "+ and # are wildcards, not topic text";
		if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
			return "it holds a control character";
		i += (size_t)len;
	}
	return NULL;
}
