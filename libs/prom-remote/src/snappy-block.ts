import { compressSync, uncompressSync } from 'snappy';

/**
 * Snappy's block format (not the framed stream format), which Prometheus's remote write and read
 * bodies use. The napi-rs `snappy` package ships prebuilt binaries, so nothing compiles at install.
 */
export function snappyCompress(data: Uint8Array): Buffer {
  return compressSync(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
}

/** Throws on a body that is not valid snappy block data. */
export function snappyUncompress(data: Uint8Array): Buffer {
  return uncompressSync(Buffer.from(data.buffer, data.byteOffset, data.byteLength), { asBuffer: true }) as Buffer;
}
