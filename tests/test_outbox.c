/* test_outbox.c: store/outbox.c on a real LMDB environment: entries are
 * numbered from 1 in order, only the next number may be appended, the
 * record's counts stay exact through appends and trims made by different
 * transactions, the numbering survives an outbox trimmed empty and a
 * reopening, and the announcement fingerprint and the over-limit flag are
 * kept. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "er.h"
#include "outbox.h"
#include "store.h"
#include "tutil.h"

static sto_env *open_env(const char *dir)
{
	sto_opts o = {.dir = dir, .sync = false, .utc_offset_s = 8 * 3600, .city = "c"};
	sto_env *env = NULL;
	char err[512];
	if (sto_open(&o, &env, err, sizeof err) != 0)
		fail_msg("sto_open(%s): %s", dir, err);
	return env;
}

static sto_outbox_info info(sto_env *env)
{
	sto_txn *t;
	sto_outbox_info i;
	assert_int_equal(sto_read_begin(env, &t), 0);
	assert_int_equal(sto_outbox_info_get(t, &i), 0);
	sto_abort(t);
	return i;
}

/* Appends n entries "entry <seq>" in one transaction. */
static void append(sto_env *env, int n, int64_t created)
{
	sto_txn *t;
	assert_int_equal(sto_write_begin(env, &t), 0);
	for (int i = 0; i < n; i++) {
		sto_outbox_info o;
		char p[32];
		assert_int_equal(sto_outbox_info_get(t, &o), 0);
		int len = snprintf(p, sizeof p, "entry %llu", (unsigned long long)o.next);
		assert_int_equal(sto_outbox_append(t, o.next, created + i, p, (size_t)len), 0);
	}
	assert_int_equal(sto_commit(t), 0);
}

static void test_append_get_trim(void **state)
{
	sto_env *env = open_env(tu_tmpdir());
	sto_txn *t;
	int64_t created;
	const void *p;
	size_t len;
	uint64_t removed;
	(void)state;

	sto_outbox_info i = info(env);
	assert_int_equal(i.next, 1);
	assert_int_equal(i.entries, 0);
	assert_int_equal(i.first, 0);

	append(env, 3, 1000);
	i = info(env);
	assert_int_equal(i.next, 4);
	assert_int_equal(i.entries, 3);
	assert_int_equal(i.bytes, 3 * strlen("entry 1"));
	assert_int_equal(i.first, 1);
	assert_int_equal(i.oldest, 1000);

	assert_int_equal(sto_read_begin(env, &t), 0);
	assert_int_equal(sto_outbox_get(t, 2, &created, &p, &len), 0);
	assert_int_equal(created, 1001);
	assert_int_equal(len, strlen("entry 2"));
	assert_memory_equal(p, "entry 2", len);
	assert_int_equal(sto_outbox_get(t, 4, &created, &p, &len), ER_ENOENT);
	assert_int_equal(sto_outbox_get(t, 0, &created, &p, &len), ER_ENOENT); /* the record is not an entry */
	sto_abort(t);

	/* only the next seq may be appended */
	assert_int_equal(sto_write_begin(env, &t), 0);
	assert_int_equal(sto_outbox_append(t, 3, 0, "x", 1), ER_EINVAL);
	assert_int_equal(sto_outbox_append(t, 5, 0, "x", 1), ER_EINVAL);
	sto_abort(t);

	/* a trim in its own transaction, as the uplink does */
	assert_int_equal(sto_write_begin(env, &t), 0);
	assert_int_equal(sto_outbox_trim(t, 2, &removed), 0);
	assert_int_equal(removed, 2);
	assert_int_equal(sto_commit(t), 0);
	i = info(env);
	assert_int_equal(i.entries, 1);
	assert_int_equal(i.bytes, strlen("entry 3"));
	assert_int_equal(i.first, 3);
	assert_int_equal(i.oldest, 1002);

	/* trimmed empty, the numbering goes on */
	assert_int_equal(sto_write_begin(env, &t), 0);
	assert_int_equal(sto_outbox_trim(t, 100, &removed), 0);
	assert_int_equal(removed, 1);
	assert_int_equal(sto_outbox_trim(t, 100, &removed), 0);
	assert_int_equal(removed, 0);
	assert_int_equal(sto_commit(t), 0);
	i = info(env);
	assert_int_equal(i.entries, 0);
	assert_int_equal(i.bytes, 0);
	assert_int_equal(i.first, 0);
	assert_int_equal(i.next, 4);
	append(env, 1, 2000);
	i = info(env);
	assert_int_equal(i.first, 4);
	assert_int_equal(i.next, 5);
	sto_close(env);
}

static void test_survives_reopen(void **state)
{
	const char *dir = tu_str("%s/db", tu_tmpdir());
	sto_env *env = open_env(dir);
	sto_txn *t;
	(void)state;

	append(env, 5, 10);
	assert_int_equal(sto_write_begin(env, &t), 0);
	assert_int_equal(sto_outbox_set_announced(t, 0xfeedf00dULL), 0);
	assert_int_equal(sto_outbox_set_over_limit(t, true), 0);
	assert_int_equal(sto_commit(t), 0);
	/* an aborted append leaves nothing */
	assert_int_equal(sto_write_begin(env, &t), 0);
	assert_int_equal(sto_outbox_append(t, 6, 0, "lost", 4), 0);
	sto_abort(t);
	sto_close(env);

	env = open_env(dir);
	sto_outbox_info i = info(env);
	assert_int_equal(i.next, 6);
	assert_int_equal(i.entries, 5);
	assert_int_equal(i.announced, 0xfeedf00dULL);
	assert_true(i.over_limit);
	sto_close(env);
}

/* A large payload (an announcement of a big registry) is kept whole. */
static void test_large_entry(void **state)
{
	sto_env *env = open_env(tu_tmpdir());
	size_t n = 3u << 20;
	char *big = malloc(n);
	sto_txn *t;
	int64_t created;
	const void *p;
	size_t len;
	(void)state;

	assert_non_null(big);
	for (size_t i = 0; i < n; i++)
		big[i] = (char)('a' + i % 26);
	assert_int_equal(sto_write_begin(env, &t), 0);
	assert_int_equal(sto_outbox_append(t, 1, 7, big, n), 0);
	assert_int_equal(sto_commit(t), 0);
	assert_int_equal(sto_read_begin(env, &t), 0);
	assert_int_equal(sto_outbox_get(t, 1, &created, &p, &len), 0);
	assert_int_equal(len, n);
	assert_memory_equal(p, big, n);
	sto_abort(t);
	free(big);
	sto_close(env);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_get_trim),
		cmocka_unit_test(test_survives_reopen),
		cmocka_unit_test(test_large_entry),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
