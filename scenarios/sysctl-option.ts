/**
 * `--sysctl NAME=VALUE` (run, packetdrill) and a plan's `sysctl` map: one parser and one check
 * for every place a user names a sysctl, before anything boots. The check runs the setting
 * through the setter the board itself uses (setTcpSysctl) on a scratch table, so a name the
 * board does not have, a bad value, or a value the model does not do is one line, exit 2.
 *
 * For `run` these are boot values — the kernel as if built with other defaults — so they work
 * on a profile without PROC_SYSCTL, where no program could change them (/proc/sys is absent).
 * net.core.default_qdisc is a boot value only; whether the profile's NET_SCHED has the kind it
 * names is checked against the profile (stack/sched/sch-api.ts).
 */
import { DEFAULT_QDISC_SYSCTL } from '../stack/sched/sch-api.js';
import { computeTcpSysctl, setTcpSysctl, sysctlProblem } from '../stack/ipv4/tcp-sysctl.js';

export interface SysctlSetting {
  name: string;
  value: string;
}

/** NAME=VALUE, checked; `where` names the flag or plan key for the error line. */
export function parseSysctlSetting(arg: string, where: string, opts: { bootOnly: boolean }): SysctlSetting | { error: string } {
  const eq = arg.indexOf('=');
  if (eq <= 0) return { error: `${where} wants NAME=VALUE, got "${arg}"` };
  const setting = { name: arg.slice(0, eq).trim(), value: arg.slice(eq + 1) };
  const problem = checkSysctlSetting(setting, opts);
  return problem ? { error: `${where}: ${problem}` } : setting;
}

/** null, or one line: the name is not a sysctl the board has, or the value is not one it takes. */
export function checkSysctlSetting(s: SysctlSetting, opts: { bootOnly: boolean }): string | null {
  if (s.name === DEFAULT_QDISC_SYSCTL) return opts.bootOnly ? null : `sysctl ${s.name}: only a boot value here (run --sysctl), not changed once the device is up`;
  const r = setTcpSysctl(computeTcpSysctl(512, 2 << 20, false, true), s.name, s.value);
  return r === 'ok' ? null : sysctlProblem(s.name, s.value, r);
}
