/**
 * Reading the user's input files — boards, images, profiles, listings — safely: only regular
 * files, never more bytes than such a file can legally hold (an image by the flash size), and
 * without blocking. The file is opened O_NONBLOCK and checked with fstat on the open
 * descriptor, so a FIFO, /dev/zero or a directory is refused before one byte is read, and
 * the file checked is the file read.
 */
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';

export interface InputFileLimit {
  /** What the file is, for messages: 'board file', 'firmware image' … */
  what: string;
  /** The most bytes such a file can be, and why (e.g. 'the board\'s 4 MiB flash'). */
  maxBytes: number;
  maxWhy?: string;
}

/** The file's bytes, or a one-line error naming the file and the problem. */
export function readInputFile(path: string, limit: InputFileLimit): Uint8Array | { error: string } {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (e) {
    return { error: `${path}: cannot open ${limit.what} (${errnoCode(e)})` };
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return { error: `${path}: ${limit.what} is ${fileKind(st)}, not a regular file` };
    if (st.size > limit.maxBytes) {
      return { error: `${path}: ${limit.what} is ${st.size} bytes, larger than ${limit.maxWhy ?? `the ${limit.maxBytes} bytes such a file can be`}` };
    }
    const bytes = new Uint8Array(st.size);
    let at = 0;
    while (at < bytes.length) {
      const n = readSync(fd, bytes, at, bytes.length - at, at);
      if (n === 0) break; // shrank while read: keep what is there, the parser judges it
      at += n;
    }
    return at === bytes.length ? bytes : bytes.subarray(0, at);
  } catch (e) {
    return { error: `${path}: cannot read ${limit.what} (${errnoCode(e)})` };
  } finally {
    closeSync(fd);
  }
}

/** A text input file: UTF-8 (a leading byte-order mark is allowed and dropped). */
export function readInputText(path: string, limit: InputFileLimit): string | { error: string } {
  const bytes = readInputFile(path, limit);
  if ('error' in bytes) return bytes;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    return { error: `${path}: ${limit.what} is not UTF-8 text` };
  }
  return text;
}

export function fileKind(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

export function errnoCode(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? (e as Error).message;
}
