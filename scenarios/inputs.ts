/**
 * Resolving the user's choices — board, profile, cost table — from a built-in name or a
 * file path, each failure a one-line error.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readInputText } from './input-files.js';
import { parseBoardText, type BoardConfig, type BoardResult } from '../emulator/board-config.js';
import { packageRoot } from '../emulator/package-root.js';
import { loadCostTable, type CostTable } from '../stack/kconfig/cost-table.js';
import type { Profile } from '../stack/kconfig/kconfig.js';
import { loadProfile } from '../stack/kconfig/profiles.js';

export const DEFAULT_BOARD = 'quark-2m';
export const DEFAULT_PROFILE = 'minimal';
export const LAB_BOARD = 'lab-host';
export const LAB_PROFILE = 'full';

let builtins: string[] | null = null;

/**
 * The built-in boards: every boards/NAME.json but the schema, read once from the folder so a
 * board added there is known everywhere (run's --help, calibrate, the error for a bad name).
 * Boards under test come first by name (quark-2m before quark-4m), the lab's host last, so a
 * list reads from the smallest board up whatever order the file system returns.
 */
export function builtinBoards(): string[] {
  if (!builtins) {
    const names = readdirSync(join(packageRoot(), 'boards'))
      .filter((f) => f.endsWith('.json') && !f.endsWith('.schema.json'))
      .map((f) => f.slice(0, -'.json'.length));
    builtins = names.filter((n) => n !== LAB_BOARD).sort().concat(names.filter((n) => n === LAB_BOARD));
  }
  return builtins;
}

export function resolveBoard(nameOrPath: string): BoardConfig | { error: string } {
  const builtin = join(packageRoot(), 'boards', `${nameOrPath}.json`);
  const path = /^[\w.-]+$/.test(nameOrPath) && existsSync(builtin) ? builtin : nameOrPath;
  if (path === nameOrPath && !existsSync(path)) {
    return { error: `board "${nameOrPath}": no such built-in board (${builtinBoards().join(', ')}) or file` };
  }
  const r = loadBoardFile(path);
  return 'error' in r ? r : r.board;
}

/** A board file is a page of JSON; anything near this size is not one. */
export const MAX_BOARD_FILE_BYTES = 64 * 1024;

export function loadBoardFile(path: string): BoardResult {
  const text = readInputText(path, { what: 'board file', maxBytes: MAX_BOARD_FILE_BYTES, maxWhy: `the ${MAX_BOARD_FILE_BYTES} bytes a board file can be` });
  if (typeof text !== 'string') return text;
  return parseBoardText(text, path);
}

export function resolveProfile(nameOrPath: string): Profile | { error: string } {
  return loadProfile(nameOrPath);
}

export function resolveCostTable(path?: string): CostTable | { error: string } {
  return loadCostTable(path);
}
