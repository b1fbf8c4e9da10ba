/** Go's snappy text for a block it cannot decode; influxd answers it with 400. */
export const SNAPPY_CORRUPT = 'snappy: corrupt input';

/**
 * The decoded length a snappy block declares (its leading uvarint), read without decoding, so a
 * body can be refused for its decoded size before any memory is taken for it. undefined where Go's
 * snappy.Decode says `snappy: corrupt input`: an empty body, a varint that does not end within the
 * body or passes 32 bits.
 */
export function snappyDecodedLength(block: Uint8Array): number | undefined {
  let length = 0;
  for (let i = 0; i < 5 && i < block.length; i++) {
    const byte = block[i];
    length += (byte & 0x7f) * 2 ** (7 * i);
    if (byte < 0x80) return length <= 0xffffffff ? length : undefined;
  }
  return undefined;
}
