/** The built-in scenarios, by name. */
import { pingScenario } from './ping.js';
import type { Scenario } from './scenario.js';

export const SCENARIOS: Record<string, { description: string; make: () => Scenario }> = {
  ping: { description: 'the board pings the lab host 4 times (static addresses)', make: () => pingScenario() },
};

export const DEFAULT_SCENARIO = 'ping';

export function findScenario(name: string): Scenario | { error: string } {
  const s = SCENARIOS[name];
  if (!s) return { error: `unknown scenario "${name}"; built in: ${Object.keys(SCENARIOS).join(', ')}` };
  return s.make();
}
