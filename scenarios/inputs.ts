/**
 * Resolving the user's choices — board, profile, cost table — from a built-in name or a
 * file path, each failure a one-line error.
 */
import { existsSync } from 'node:fs';
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

export function resolveBoard(nameOrPath: string): BoardConfig | { error: string } {
  const builtin = join(packageRoot(), 'boards', `${nameOrPath}.json`);
  const path = /^[\w.-]+$/.test(nameOrPath) && existsSync(builtin) ? builtin : nameOrPath;
  if (path === nameOrPath && !existsSync(path)) {
    return { error: `board "${nameOrPath}": no such built-in board (quark-2m, quark-4m, lab-host) or file` };
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
