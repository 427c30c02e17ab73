/* owners.c: which district node owns each district, on a city node (see
 * ingest.h). The owner of a district is an id into a short list of names
 * (there are as many district nodes as a city has, a few dozen); the
 * district's slot holds id + 0 for none, stored with release so that a
 * worker that reads the id also reads the name behind it. */
#include "ingest.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ing_owners {
	pthread_mutex_t lock; /* claims and names: rare */
	_Atomic uint32_t of[ING_DISTRICTS_MAX];
	char (*names)[ING_SENDER_MAX + 1];
	size_t n, cap;
};

int ing_owners_new(ing_owners **out)
{
	ing_owners *o = calloc(1, sizeof *o);
	if (o == NULL)
		return ER_ENOMEM;
	pthread_mutex_init(&o->lock, NULL);
	*out = o;
	return 0;
}

void ing_owners_free(ing_owners *o)
{
	if (o == NULL)
		return;
	pthread_mutex_destroy(&o->lock);
	free(o->names);
	free(o);
}

uint32_t ing_owners_id(ing_owners *o, const char *name, size_t len, bool create)
{
	uint32_t id = 0;

	if (len > ING_SENDER_MAX)
		return 0;
	pthread_mutex_lock(&o->lock);
	for (size_t i = 0; i < o->n && id == 0; i++)
		if (strlen(o->names[i]) == len && memcmp(o->names[i], name, len) == 0)
			id = (uint32_t)i + 1;
	if (id == 0 && create && er_grow(&o->names, o->n, &o->cap, sizeof *o->names, 8) == 0) {
		memcpy(o->names[o->n], name, len);
		o->names[o->n][len] = 0;
		id = (uint32_t)++o->n;
	}
	pthread_mutex_unlock(&o->lock);
	return id;
}

int ing_owners_claim(ing_owners *o, uint32_t idx, uint32_t id, uint32_t *other)
{
	int rc = 0;

	if (idx >= ING_DISTRICTS_MAX)
		return ER_ERANGE;
	pthread_mutex_lock(&o->lock);
	uint32_t cur = atomic_load_explicit(&o->of[idx], memory_order_relaxed);
	if (cur != 0 && cur != id) {
		*other = cur;
		rc = ER_EEXIST;
	} else {
		/* release: the owner's name (written under the lock before its
		 * id was handed out) is visible to a reader of the id */
		atomic_store_explicit(&o->of[idx], id, memory_order_release);
	}
	pthread_mutex_unlock(&o->lock);
	return rc;
}

uint32_t ing_owners_of(const ing_owners *o, uint32_t idx)
{
	if (idx >= ING_DISTRICTS_MAX)
		return 0;
	/* acquire: pairs with the release in ing_owners_claim */
	return atomic_load_explicit(&((ing_owners *)o)->of[idx], memory_order_acquire);
}

void ing_owners_name(ing_owners *o, uint32_t id, char *buf, size_t cap)
{
	pthread_mutex_lock(&o->lock);
	snprintf(buf, cap, "%s", id >= 1 && id <= o->n ? o->names[id - 1] : "");
	pthread_mutex_unlock(&o->lock);
}
