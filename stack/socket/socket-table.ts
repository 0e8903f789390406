/**
 * The socket layer's memory: for each socket, the file, the socket inode (socket_alloc) and
 * the protocol's struct sock come from their slab caches in board RAM, as sock_alloc and
 * sk_alloc do. Failure gives ENOMEM/ENOBUFS, never an exception.
 */
import type { SlabCache } from '../core/kmem.js';
import type { NetStack } from '../net-stack.js';
import { skMemDefault, type SockMemory } from '../core/sock.js';

export class SocketTable {
  private readonly filp: SlabCache;
  private readonly sockInode: SlabCache;
  private readonly protoCaches = new Map<string, SlabCache>();
  readonly rmemDefault: number;
  readonly wmemDefault: number;
  /** Sockets alive now, for the report and leak checks. */
  live = 0;

  constructor(private readonly stack: NetStack) {
    const s = stack.env.structs;
    this.filp = stack.env.mem.createCache('filp', s['file']!);
    this.sockInode = stack.env.mem.createCache('sock_inode_cache', s['socket_alloc']!);
    this.rmemDefault = skMemDefault(s['sk_buff']!, s['skb_shared_info']!);
    this.wmemDefault = this.rmemDefault;
  }

  /** The protocol's slab cache ("UDP", "TCP", "RAW", "PING"), made on first use. */
  protoCache(name: string, structName: string): SlabCache {
    let c = this.protoCaches.get(name);
    if (!c) {
      c = this.stack.env.mem.createCache(name, this.stack.env.structs[structName]!);
      this.protoCaches.set(name, c);
    }
    return c;
  }

  allocate(proto: SlabCache): SockMemory | null {
    const fileAddr = this.filp.alloc();
    if (fileAddr === 0) return null;
    const socketAddr = this.sockInode.alloc();
    if (socketAddr === 0) {
      this.filp.free(fileAddr);
      return null;
    }
    const skAddr = proto.alloc();
    if (skAddr === 0) {
      this.sockInode.free(socketAddr);
      this.filp.free(fileAddr);
      return null;
    }
    this.live++;
    return { skAddr, socketAddr, fileAddr };
  }

  free(proto: SlabCache, m: SockMemory): void {
    proto.free(m.skAddr);
    this.sockInode.free(m.socketAddr);
    this.filp.free(m.fileAddr);
    this.live--;
  }
}
