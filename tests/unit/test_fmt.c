/* Numbers and ages as the listing prints them. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "fmt.h"

static void check_age(uint64_t ms, const char *want)
{
	char out[TW_FMT_AGE_LEN];

	memset(out, 'x', sizeof(out));
	assert_int_equal(tw_fmt_age(out, ms), strlen(want));
	assert_string_equal(out, want);
}

static void test_age(void **state)
{
	(void)state;
	check_age(0, "0.0s");
	check_age(1549, "1.5s");
	check_age(59999, "59.9s");
	check_age(60000, "1m00s");
	check_age(182000, "3m02s");
	check_age(3599999, "59m59s");
	check_age(3600000, "1h00m");
	check_age(7500000, "2h05m");
	check_age(86400000, "1d00h");
	check_age(356400000, "4d03h");
	check_age(UINT64_MAX, "213503982334d14h"); /* the longest, fits */
}

static void test_u64(void **state)
{
	char out[24];

	(void)state;
	assert_int_equal(tw_fmt_u64(out, 0), 1);
	assert_memory_equal(out, "0", 1);
	assert_int_equal(tw_fmt_u64(out, 65535), 5);
	assert_memory_equal(out, "65535", 5);
	assert_int_equal(tw_fmt_u64(out, UINT64_MAX), 20);
	assert_memory_equal(out, "18446744073709551615", 20);
}

/* needs_escape says yes exactly when tw_fmt_escaped changes the text. */
static void test_needs_escape(void **state)
{
	static const char *const texts[] = {
		"plain",        "",
		"ev\x1b[2Jil",  "tab\there",
		"del\x7f",      "csi\xc2\x9b",
		"\xc2\xa0nbsp", "back\\slash",
		"quo\"te",      "caf\xc3\xa9",
	};
	char out[64];

	(void)state;
	for (int quote = 0; quote < 2; quote++)
		for (unsigned i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
			tw_fmt_escaped(out, sizeof(out), texts[i], quote);
			assert_int_equal(tw_fmt_needs_escape(texts[i], quote),
					 strcmp(out, texts[i]) != 0);
		}
	assert_true(tw_fmt_needs_escape("ev\x1b[2Jil", 0));
	assert_false(tw_fmt_needs_escape("quo\"te", 0));
	assert_true(tw_fmt_needs_escape("quo\"te", 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_age),
		cmocka_unit_test(test_u64),
		cmocka_unit_test(test_needs_escape),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
