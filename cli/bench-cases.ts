/** The transfers `npm run bench` measures; README's bench block is checked against these labels. */
export interface Case {
  label: string;
  bytes: number;
  capture: 'dut' | 'none';
}

export const CASES: Case[] = [
  { label: 'bulk-rx 4 MB, capture to file', bytes: 4_000_000, capture: 'dut' },
  { label: 'bulk-rx 117 MB, capture to file', bytes: 117_000_000, capture: 'dut' },
  { label: 'bulk-rx 400 MB, capture to file', bytes: 400_000_000, capture: 'dut' },
  { label: 'bulk-rx 117 MB, --capture none', bytes: 117_000_000, capture: 'none' },
];
