#ifndef BH_FUSE_TESTING_H
#define BH_FUSE_TESTING_H
/* TEST ONLY: a minimal FUSE filesystem whose server does not answer a close's FLUSH (what any
 * local user can mount with fusermount): one empty regular file, "f". Not used by bulkhead. */
#include <sys/types.h>

typedef struct bh_testing_fuse {
    pid_t server;        /* the server process */
    int release_fd;      /* write a byte: every held FLUSH is answered, and all later ones */
    int held_count_fd;   /* unused by callers; keeps the shared page's owner simple */
    volatile int *_Nullable held; /* FLUSH requests held so far (shared with the server) */
} bh_testing_fuse;

/* Mounts the filesystem on `mountpoint` (an empty directory; root) and forks its server, which
 * holds every FLUSH from the process `hold_for` or a child of it (the pool and its spawn's
 * helper) until release, and answers every other one. 0 or a positive errno. */
int bh_testing_fuse_start(const char *_Nonnull mountpoint, pid_t hold_for, bh_testing_fuse *_Nonnull out);

/* The same; with `hold_attributes`, the GETATTR and STATFS requests of `hold_for` (or a child)
 * are held too (a server that never answers: whoever asks waits), answered with EIO at release. */
int bh_testing_fuse_start_holding(const char *_Nonnull mountpoint, pid_t hold_for, int hold_attributes, bh_testing_fuse *_Nonnull out);

/* Answers every held FLUSH (and every later one). */
void bh_testing_fuse_release(bh_testing_fuse *_Nonnull f);

/* Releases, detaches the mount, ends the server. */
void bh_testing_fuse_stop(const char *_Nonnull mountpoint, bh_testing_fuse *_Nonnull f);

#endif
