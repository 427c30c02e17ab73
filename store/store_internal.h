/* store_internal.h: what the store's own files share (store.c, econ.c):
 * the environment and transaction structs and the database handles. Not
 * for use outside store/. */
#ifndef STO_STORE_INTERNAL_H
#define STO_STORE_INTERNAL_H

#include "store.h"

#include <lmdb.h>
#include <pthread.h>

#define VAL_VERSION 1
#define VAL_LEN 56

enum { DB_ROLLUP, DB_SERIES, DB_REGISTRY, DB_SENDERS, DB_META, DB_EVENTS, DB_ECON, DB_OUTBOX, DB_COUNT };

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
};

/* Maps a write's LMDB result, remembering a full map for sto_commit. */
int sto__wrc(sto_txn *t, int rc);
/* Maps an LMDB result to the er_ error space. */
int sto__map_rc(int rc);


#endif
