import { EtcdLeaseInvalidError, type Lease } from 'etcd3';

/**
 * lease.keepaliveOnce(), tried again on another member when it fails. It runs over a stream, which
 * etcd3's retry policy does not cover: with one member of the cluster down, about one call in three
 * would fail at once. A lease that etcd no longer knows is not retried (the caller takes a new one).
 */
export async function keepaliveOnce(lease: Lease, attempts = 4): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await lease.keepaliveOnce();
      return;
    } catch (err) {
      if (err instanceof EtcdLeaseInvalidError || lease.revoked() || attempt >= attempts) throw err;
    }
  }
}
