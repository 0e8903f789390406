/**
 * The common part of every header view (smoltcp's Packet<T>): a place in a buffer, repointed
 * with `wrap`, so a per-frame path keeps one view per header and allocates nothing.
 */
export class HeaderView {
  bytes: Uint8Array = new Uint8Array(0);
  at = 0;

  wrap(bytes: Uint8Array, at: number): this {
    this.bytes = bytes;
    this.at = at;
    return this;
  }
}
