/**
 * trace.msgpack as a stream: each record is one msgpack map, appended to a bounded buffer that
 * goes to its sink (a file, or memory for in-process runs) whenever it fills, so the host holds
 * at most one buffer of the trace whatever the run's length. docs/trace-format.md describes the
 * records.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { FileSink } from './byte-stream.js';
import { outputWriteError } from './output-error.js';
// msgpackr/pack: the same Packr, without probing for the native unpack add-on at load time.
import { Packr } from 'msgpackr/pack';

/** Where the bytes go: a file written as the run goes, or chunks kept for an in-process caller. */
export interface TraceSink {
  write(chunk: Uint8Array): void;
  close(): void;
}

/** Bytes buffered before a write to the sink. */
export const TRACE_BUFFER_BYTES = 64 * 1024;

/** Opens its file on the first write, so a run refused for bad input leaves no file behind. */
export class FileTraceSink implements TraceSink {
  private file: FileSink | null = null;
  /** True once the file was created (it stays true after close). */
  opened = false;
  constructor(readonly path: string) {}
  write(chunk: Uint8Array): void {
    if (this.file === null) {
      try {
        mkdirSync(dirname(this.path), { recursive: true });
      } catch (e) {
        throw outputWriteError(this.path, e);
      }
      this.file = new FileSink(this.path);
      this.opened = true;
    }
    this.file.write(chunk, chunk.length);
  }
  close(): void {
    this.file?.close();
  }
}

/** Keeps the chunks: for runs in-process (tests, the library API) that want the bytes back. */
export class MemoryTraceSink implements TraceSink {
  private readonly chunks: Uint8Array[] = [];
  write(chunk: Uint8Array): void {
    this.chunks.push(chunk.slice());
  }
  close(): void {}
  bytes(): Uint8Array {
    return Buffer.concat(this.chunks);
  }
}

export class TraceWriter {
  // Plain maps (no msgpackr record extension): any msgpack tool reads them, the same bytes every run.
  private readonly packr = new Packr({ useRecords: false, variableMapSize: true });
  private readonly buffer = new Uint8Array(TRACE_BUFFER_BYTES);
  private used = 0;
  records = 0;
  bytesWritten = 0;
  private closed = false;

  constructor(private readonly sink: TraceSink) {}

  write(record: Record<string, unknown>): void {
    if (this.closed) return;
    const packed = this.packr.pack(record);
    this.records++;
    if (this.used + packed.length > this.buffer.length) this.flush();
    if (packed.length > this.buffer.length) {
      this.sink.write(packed);
      this.bytesWritten += packed.length;
      return;
    }
    this.buffer.set(packed, this.used);
    this.used += packed.length;
  }

  flush(): void {
    if (this.used === 0) return;
    this.sink.write(this.buffer.subarray(0, this.used));
    this.bytesWritten += this.used;
    this.used = 0;
  }

  /** Let go of the sink without writing what is buffered: the run failed (a write did). */
  abandon(): void {
    if (this.closed) return;
    this.closed = true;
    this.used = 0;
    try {
      this.sink.close();
    } catch {
      // Already failing: the first error is the one reported.
    }
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.sink.close();
    this.closed = true;
  }
}
