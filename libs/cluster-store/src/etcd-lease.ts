import { type Etcd3, EtcdLeaseInvalidError, type Lease } from 'etcd3';

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

/**
 * Deletes `key` only if it rides on `lease` (a compare-and-delete transaction: a record rewritten by
 * another process sits on that process's lease and stays), then revokes the lease, which removes
 * whatever else is attached to it and nothing more.
 */
export async function deleteIfOnLease(client: Etcd3, key: string, lease: Lease): Promise<void> {
  if (lease.revoked()) return;
  let id: string;
  try {
    id = await lease.grant();
  } catch {
    return; // never granted: nothing of ours can be in the store
  }
  await client.if(key, 'Lease', '==', id).then(client.delete().key(key)).commit();
  await lease.revoke().catch(() => undefined);
}
