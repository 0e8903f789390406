/**
 * Which qdisc a device gets (sch_generic.c's default_qdisc_ops, sch_api.c's qdisc_set_default)
 * and its creation at dev_activate (attach_one_default_qdisc → qdisc_create_dflt).
 *
 * default_qdisc_ops starts as pfifo_fast in every kernel. With NET_SCHED, sch_default_qdisc
 * (a late initcall) applies CONFIG_DEFAULT_NET_SCH — "fq_codel" when NET_SCH_DEFAULT and
 * DEFAULT_FQ_CODEL are set — and the sysctl net.core.default_qdisc (sysctl_net_core.c, only
 * under CONFIG_NET_SCHED) changes it for devices activated afterwards. A kind that is not
 * registered is refused with -ENOENT, as qdisc_set_default answers.
 */
import type { EnabledSymbols } from '../kconfig/symbols.js';
import type { KernelMemory } from '../core/kmem.js';
import type { NetDevice } from '../core/netdevice.js';
import { NoopQdisc, NoqueueQdisc, QDISC_SIZE_I386, type Qdisc } from './qdisc.js';
import { FQ_CODEL_PRIV_I386, FqCodel } from './sch-fq-codel.js';
import { PFIFO_FAST_PRIV_I386, PfifoFast } from './sch-generic.js';
import { Errno } from '../uapi/errno.js';

export const DEFAULT_QDISC_SYSCTL = 'net.core.default_qdisc';

/**
 * The kinds register_qdisc has seen: none without NET_SCHED (pktsched_init is sch_api.c);
 * with it pfifo_fast, and fq_codel when NET_SCH_FQ_CODEL is built. (pfifo, bfifo, mq and
 * noqueue register too but are not modelled as defaults here.)
 */
export function registeredQdiscs(config: EnabledSymbols): string[] {
  if (!config.has('NET_SCHED')) return [];
  return config.has('NET_SCH_FQ_CODEL') ? ['pfifo_fast', 'fq_codel'] : ['pfifo_fast'];
}

/** CONFIG_DEFAULT_NET_SCH as net/sched/Kconfig derives it. */
export function configDefaultQdisc(config: EnabledSymbols): string {
  return config.has('NET_SCHED') && config.has('NET_SCH_DEFAULT') && config.has('DEFAULT_FQ_CODEL') ? 'fq_codel' : 'pfifo_fast';
}

/** qdisc_set_default(name): 0, or -ENOENT when no such kind is registered. */
export function qdiscSetDefault(config: EnabledSymbols, name: string): number {
  return registeredQdiscs(config).includes(name) ? 0 : -Errno.ENOENT;
}

/**
 * The default qdisc after boot: Kconfig's, then a boot-time net.core.default_qdisc. An error
 * line when the sysctl does not exist (no NET_SCHED) or names an unregistered kind.
 */
export function bootDefaultQdisc(config: EnabledSymbols, sysctl: Readonly<Record<string, string | number>> | undefined): { kind: string } | { error: string } {
  const kind = configDefaultQdisc(config);
  const v = sysctl?.[DEFAULT_QDISC_SYSCTL];
  if (v === undefined) return { kind };
  if (!config.has('NET_SCHED')) return { error: `sysctl ${DEFAULT_QDISC_SYSCTL}: no such sysctl without CONFIG_NET_SCHED` };
  if (typeof v !== 'string' || qdiscSetDefault(config, v) !== 0) {
    return { error: `sysctl ${DEFAULT_QDISC_SYSCTL} = ${JSON.stringify(v)}: ENOENT, not a registered qdisc (${registeredQdiscs(config).join(' ')})` };
  }
  return { kind: v };
}

/**
 * attach_default_qdiscs: qdisc_create_dflt of the default kind, the struct and its tables from
 * board RAM. When any of that fails, 6.1 falls back to noqueue (whose struct Qdisc, with no
 * private area, is allocated too); only when even that fails does the device keep noop_qdisc,
 * which drops what it is sent.
 */
export function qdiscCreateDefault(kind: string, mem: KernelMemory, dev: NetDevice, qdiscSize: number | undefined, hashrnd: number): Qdisc {
  const size = qdiscSize ?? QDISC_SIZE_I386;
  const priv = kind === 'fq_codel' ? FQ_CODEL_PRIV_I386 : PFIFO_FAST_PRIV_I386;
  const addr = mem.kmalloc(size + priv, 'kernel');
  if (addr !== 0) {
    const q = kind === 'fq_codel' ? FqCodel.create(mem, dev.mtu, hashrnd) : PfifoFast.create(mem, dev.txQueueLen);
    if (q) {
      q.structAddr = addr;
      return q;
    }
    mem.kfree(addr);
  }
  const noqueueAddr = mem.kmalloc(size, 'kernel');
  if (noqueueAddr === 0) return new NoopQdisc();
  const noqueue = new NoqueueQdisc();
  noqueue.structAddr = noqueueAddr;
  return noqueue;
}
