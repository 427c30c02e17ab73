/* store_internal.h: what the store's own files share (store.c, econ.c, budgets.c):
 * the environment and transaction structs and the database handles. Not
 * for use outside store/. */
#ifndef STO_STORE_INTERNAL_H
#define STO_STORE_INTERNAL_H

#include "store.h"

#include <lmdb.h>
#include <pthread.h>

#define VAL_VERSION 1
#define VAL_LEN 56
#define EV_LEN 76 /* the common part of an event value; a warning's follows it (budgets.c) */

enum {
	DB_ROLLUP,
	DB_SERIES,
	DB_REGISTRY,
	DB_SENDERS,
	DB_META,
	DB_EVENTS,
	DB_ECON,
	DB_OUTBOX,
	DB_BUDGETS,
	DB_REMOTE_EVENTS, /* a city node: district nodes' events (outbox.c) */
	DB_COUNT
};

struct sto_env {
	MDB_env *env;
	MDB_dbi dbi[DB_COUNT];
	pthread_rwlock_t grow; /* read txns shared, sto_grow exclusive */
	uint64_t map_size;
};

struct sto_txn {
	sto_env *env;
	MDB_txn *txn;
	bool read;
	bool full; /* a write hit MDB_MAP_FULL: the txn is dead, commit says ER_EFULL */
	MDB_cursor *rollup; /* write txns: one cursor for read-modify-write (LMDB closes it with the txn) */
	bool positioned;	       /* the cursor is at the row last, which exists */
	uint8_t last[STO_KEY_LEN];
};

/* An event value (the common part; for a warning, budgets.c's rest) as
 * stored in `events`, decoded; ER_EVERSION / ER_EINVAL when it is not one. */
int sto__event_decode(const uint8_t *v, size_t len, uint64_t id, sto_event *e);
struct sto_warning;
int sto__warning_decode(const uint8_t *v, size_t len, uint64_t id, struct sto_warning *w);

/* Maps a write's LMDB result, remembering a full map for sto_commit. */
int sto__wrc(sto_txn *t, int rc);
/* Maps an LMDB result to the er_ error space. */
int sto__map_rc(int rc);


/* Byte order of keys (big-endian: LMDB order is numeric order) and of
 * values (little-endian fixed layouts). */
static inline void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static inline uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static inline void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

static inline uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static inline void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

static inline uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

#endif
