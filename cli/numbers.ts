/**
 * Strict numbers on the command line. `Number()` takes '' as 0, '0x10' as 16 and '1e3' as
 * 1000; a flag that means a whole count wants plain decimal digits, in range, and says so.
 */
import { fail } from './output.js';

const DECIMAL = /^[0-9]{1,16}$/;

/** A decimal integer from `min` to `max`, or a one-line usage error naming the flag. */
export function parseDecimalInteger(text: string | undefined, flag: string, min: number, max: number): number {
  const value = decimalInteger(text, min, max);
  if (value === null) fail(`${flag} must be a decimal integer from ${min} to ${max}, got "${clip(text ?? '')}"`);
  return value;
}

/** The same check without the throw: null unless `text` is plain digits within [min, max]. */
export function decimalInteger(text: string | undefined, min: number, max: number): number | null {
  if (text === undefined || !DECIMAL.test(text)) return null;
  const value = Number(text);
  return Number.isSafeInteger(value) && value >= min && value <= max ? value : null;
}

function clip(s: string): string {
  return s.length > 24 ? s.slice(0, 24) + '…' : s;
}
