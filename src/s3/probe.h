/**
 * @file probe.h
 * Find out which conditions the server really honours, on a private
 * scratch key (".etagfs-probe-<random>" under the mount prefix), cleaned
 * up afterwards. Never trusts a condition a server merely accepts.
 */
#ifndef ETAGFS_S3_PROBE_H
#define ETAGFS_S3_PROBE_H

#include "s3/client.h"

/**
 * Probe and fill @p caps. @p scratch_prefix is where the scratch objects
 * go ("" or "prefix/"). 0, or a negative errno when the server could not
 * be probed at all (network, permissions).
 */
int s3_probe_caps(struct s3_client *c, const char *scratch_prefix,
		  struct s3_caps *caps);

/** One line describing @p caps for the mount log. */
void s3_probe_describe(const struct s3_caps *caps, char *out, size_t len);

#endif
