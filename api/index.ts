/**
 * quarklab's library API (`import … from 'quarklab'`): write scenarios, run them, boot a
 * board, build and compare profiles, and observe a board — without reaching into the stack.
 */
export { defineScenario, isDefinedScenario, refuse } from './define-scenario.js';
export type { BoardHandle, DefinedScenario, ScenarioDefinition, ScenarioFigure, ScenarioPrograms, ScenarioRefusal, ScenarioRun } from './define-scenario.js';
export type { OptionSchema, OptionSpec, OptionValues } from './options.js';
export { UdpClient, UdpServer } from './udp-exchange.js';
export type { UdpClientOptions, UdpServerOptions } from './udp-exchange.js';
export type { BoardObservation, CacheObservation } from './observe.js';
export { bootBoard, buildImage, diffProfiles } from './boards.js';
export type { ImageOptions, StandaloneBoard } from './boards.js';
export { loadScenarioModule, resolveScenario } from './load-scenario.js';
export type { ScenarioCheck } from '../scenarios/scenario.js';
export { run, QUARKLAB_VERSION } from '../scenarios/run.js';
export type { RunOptions, RunOutcome } from '../scenarios/run.js';
export type { Report } from '../traces/report.js';
export { parseBudget } from '../traces/budgets.js';
export type { BudgetSpec, BudgetResult } from '../traces/budgets.js';
export type { ProfileDiff } from '../scripts/profile-diff.js';
/** What a board program is and gets: its system calls (socket, bind, sendto, recvfrom …) and the virtual clock. */
export type { Program, ProgramContext } from '../apps/program.js';
export { AF_INET, SOCK_DGRAM, SOCK_STREAM } from '../stack/uapi/socket.js';
export { Errno, errnoName } from '../stack/uapi/errno.js';
export type { SockAddr } from '../stack/socket/sock.js';
export { ipToString, parseIp } from '../stack/core/addr.js';
export { NS_PER_MS, NS_PER_SEC, NS_PER_US } from '../emulator/event-queue.js';
