/**
 * Output that streams: whole blocks are laid out in one fixed-size buffer and handed to a sink
 * when the buffer fills, so a capture of any length holds only this buffer in memory. The
 * buffer only ever holds whole blocks when it is flushed, so a file cut short by an
 * interrupted run still ends at a block boundary.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { outputWriteError } from './output-error.js';

export interface ByteSink {
  write(bytes: Buffer, length: number): void;
  close(): void;
}

/** Writes to a file as the run goes (the file is created, or truncated, at once). */
export class FileSink implements ByteSink {
  private fd: number | null;
  constructor(readonly path: string) {
    try {
      this.fd = openSync(path, 'w');
    } catch (e) {
      throw outputWriteError(path, e);
    }
  }
  write(bytes: Uint8Array, length: number): void {
    try {
      let at = 0;
      while (at < length) at += writeSync(this.fd!, bytes, at, length - at);
    } catch (e) {
      throw outputWriteError(this.path, e);
    }
  }
  close(): void {
    const fd = this.fd;
    this.fd = null;
    if (fd === null) return;
    try {
      closeSync(fd);
    } catch (e) {
      throw outputWriteError(this.path, e);
    }
  }
}

/** Keeps the output in memory, for callers of the library API that want the bytes back. */
export class MemorySink implements ByteSink {
  private readonly chunks: Buffer[] = [];
  write(bytes: Buffer, length: number): void {
    this.chunks.push(Buffer.from(bytes.subarray(0, length)));
  }
  close(): void {}
  toBytes(): Uint8Array {
    return new Uint8Array(Buffer.concat(this.chunks));
  }
}

/** 256 KiB: larger than any one block (an EPB is at most 20 + 65535 bytes of data plus a 64 KiB comment). */
export const STREAM_BUFFER_BYTES = 256 * 1024;

export class BlockStream {
  readonly buf: Buffer;
  readonly dv: DataView;
  /** Bytes of whole blocks waiting in `buf`. */
  pos = 0;

  constructor(
    private readonly sink: ByteSink,
    size = STREAM_BUFFER_BYTES,
  ) {
    this.buf = Buffer.alloc(size);
    this.dv = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  /** Room for a block of `n` bytes at `pos` (flushing first when it would not fit). */
  reserve(n: number): number {
    if (n > this.buf.length) throw new Error(`block of ${n} bytes is larger than the ${this.buf.length}-byte stream buffer`);
    if (this.pos + n > this.buf.length) this.flush();
    return this.pos;
  }

  /** Append a block already built elsewhere. */
  append(bytes: Uint8Array): void {
    const at = this.reserve(bytes.length);
    this.buf.set(bytes, at);
    this.pos = at + bytes.length;
  }

  flush(): void {
    if (this.pos > 0) this.sink.write(this.buf, this.pos);
    this.pos = 0;
  }

  close(): void {
    this.flush();
    this.sink.close();
  }

  /** Let go of the sink without writing what is buffered: the run failed (a write did). */
  abandon(): void {
    this.pos = 0;
    try {
      this.sink.close();
    } catch {
      // Already failing: the first error is the one reported.
    }
  }
}
