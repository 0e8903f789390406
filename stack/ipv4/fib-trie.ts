/**
 * FIB_TRIE: the level-compressed trie of net/ipv4/fib_trie.c.
 *
 * Routes are keyed by their destination prefix; all routes with the same prefix key (10.0.0.0/8
 * and 10.0.0.0/24, say) hang off one leaf, ordered longest prefix first, then by metric. Inner
 * nodes (tnodes) test `bits` key bits starting at bit `pos` (counted from the least significant)
 * and have 2^bits children; bits a node does not test are skipped (path compression). After
 * every change the nodes on the path are resized as Linux does: a node whose children are
 * mostly present (≥ 50%, 30% at the root, counting full children twice) doubles
 * (inflate), one that is mostly empty (< 25%, 15% at the root) halves, and one with a single
 * child is replaced by it.
 *
 * Memory is Linux's on i386: a leaf is LEAF_SIZE (= sizeof(struct tnode), calibrated) from the
 * "ip_fib_trie" cache; a tnode with n children is kzalloc(TNODE_SIZE(n)) = offsetof(struct
 * tnode, kv[0].tnode[n]); the table itself (fib_table + struct trie) is allocated at init.
 * When an allocation fails the insert returns ENOBUFS and a resize is simply not done, leaving
 * the trie correct, as in Linux.
 */
import type { KernelMemory, SlabCache } from '../core/kmem.js';
import { FibAliasAllocator, type FibAliasMem } from './fib-alias.js';
import type { Fib, Route, RouteMatch } from './fib.js';

interface Alias {
  route: Route;
  mem: FibAliasMem;
}

interface Leaf {
  isLeaf: true;
  key: number;
  parent: TNode | null;
  addr: number;
  aliases: Alias[];
}

interface TNode {
  isLeaf: false;
  key: number;
  pos: number;
  bits: number;
  parent: TNode | null;
  addr: number;
  children: (Node | null)[];
}

type Node = Leaf | TNode;

/** resize()'s thresholds (net/ipv4/fib_trie.c). */
const INFLATE_THRESHOLD = 50;
const HALVE_THRESHOLD = 25;
const INFLATE_THRESHOLD_ROOT = 30;
const HALVE_THRESHOLD_ROOT = 15;
const MAX_WORK = 10;

function maskAbove(key: number, shift: number): number {
  return shift >= 32 ? 0 : ((key >>> shift) << shift) >>> 0;
}

function prefixKey(dst: number, plen: number): number {
  return maskAbove(dst, 32 - plen);
}

/** get_cindex: the child index of `key` in `tn`; ≥ 2^bits when the key is outside tn's prefix. */
function cindex(key: number, tn: TNode): number {
  return ((key ^ tn.key) >>> 0) >>> tn.pos;
}

function isFull(tn: TNode, n: Node | null): boolean {
  return n !== null && !n.isLeaf && n.pos + n.bits === tn.pos;
}

function aliasContains(a: Alias, key: number, dst: number): boolean {
  const plen = a.route.prefixLen;
  return plen === 0 || ((dst ^ key) >>> 0) >>> (32 - plen) === 0;
}

export class FibTrie implements Fib {
  readonly kind = 'FIB_TRIE' as const;
  private root: Node | null = null;
  private readonly leafCache: SlabCache;
  private readonly aliases: FibAliasAllocator;
  /** offsetof(struct tnode, kv[0].tnode): the tnode header before its child pointers. */
  private readonly tnodeHeader: number;
  /** fib_table with its struct trie, allocated once (fib_trie_table). */
  readonly tableAddr: number;
  readonly stats = { inflates: 0, halves: 0, collapses: 0, resizeFailures: 0 };

  constructor(
    private readonly mem: KernelMemory,
    structs: Readonly<Record<string, number>>,
  ) {
    // LEAF_SIZE = TNODE_SIZE(1) = sizeof(struct tnode); a child pointer is 4 bytes on i386.
    this.leafCache = mem.createCache('ip_fib_trie', structs['tnode']!);
    this.tnodeHeader = structs['tnode']! - 4;
    this.aliases = new FibAliasAllocator(mem, structs);
    this.tableAddr = mem.kmalloc(structs['fib_table']! + structs['key_vector']!);
    if (this.tableAddr === 0) throw new Error('out of memory at boot allocating the main fib_table');
  }

  private newTNode(key: number, pos: number, bits: number): TNode | null {
    const addr = this.mem.kmalloc(this.tnodeHeader + 4 * 2 ** bits);
    if (addr === 0) return null;
    return { isLeaf: false, key: maskAbove(key, pos + bits), pos, bits, parent: null, addr, children: new Array<Node | null>(2 ** bits).fill(null) };
  }

  private freeNode(n: Node): void {
    if (n.isLeaf) this.leafCache.free(n.addr);
    else this.mem.kfree(n.addr);
  }

  /** put_child_root: make `n` the child of `tp` for `key` (or the root). */
  private putChildRoot(tp: TNode | null, key: number, n: Node | null): void {
    if (tp) tp.children[cindex(key, tp)] = n;
    else this.root = n;
    if (n) n.parent = tp;
  }

  private findLeaf(key: number): Leaf | null {
    let n = this.root;
    while (n && !n.isLeaf) {
      const i = cindex(key, n);
      if (i >= n.children.length) return null;
      n = n.children[i]!;
    }
    return n && n.key === key ? n : null;
  }

  insert(route: Route): 'ok' | 'ENOBUFS' | 'EEXIST' {
    const key = prefixKey(route.dst, route.prefixLen);
    const leaf = this.findLeaf(key);
    if (leaf?.aliases.some((a) => a.route.prefixLen === route.prefixLen && a.route.metric === route.metric)) return 'EEXIST';
    const mem = this.aliases.alloc(route);
    if (!mem) return 'ENOBUFS';
    const alias: Alias = { route: { ...route }, mem };
    if (leaf) {
      this.addAlias(leaf, alias);
      return 'ok';
    }
    if (!this.insertLeaf(key, alias)) {
      this.aliases.free(mem);
      return 'ENOBUFS';
    }
    return 'ok';
  }

  /** Longest prefix first, then the lowest metric (fib_insert_alias's order for one key). */
  private addAlias(leaf: Leaf, a: Alias): void {
    const i = leaf.aliases.findIndex((b) => b.route.prefixLen < a.route.prefixLen || (b.route.prefixLen === a.route.prefixLen && b.route.metric > a.route.metric));
    if (i < 0) leaf.aliases.push(a);
    else leaf.aliases.splice(i, 0, a);
  }

  /** fib_insert_node: a new leaf, with a new one-bit tnode above it if it shares a slot. */
  private insertLeaf(key: number, alias: Alias): boolean {
    let tp: TNode | null = null;
    let n: Node | null = this.root;
    while (n && !n.isLeaf) {
      const i = cindex(key, n);
      if (i >= n.children.length) break;
      tp = n;
      n = n.children[i]!;
    }
    const leafAddr = this.leafCache.alloc();
    if (leafAddr === 0) return false;
    const leaf: Leaf = { isLeaf: true, key, parent: null, addr: leafAddr, aliases: [alias] };
    if (n) {
      // The slot is taken by a leaf with another key or a tnode for another prefix: join them
      // under a node that tests the highest bit where their keys differ.
      const tn = this.newTNode(key, 31 - Math.clz32((key ^ n.key) >>> 0), 1);
      if (!tn) {
        this.leafCache.free(leafAddr);
        return false;
      }
      tn.children[cindex(key, tn) ^ 1] = n;
      n.parent = tn;
      this.putChildRoot(tp, key, tn);
      tp = tn;
    }
    this.putChildRoot(tp, key, leaf);
    this.rebalance(tp);
    return true;
  }

  remove(dst: number, prefixLen: number, ifindex?: number, match?: RouteMatch): boolean {
    const key = prefixKey(dst, prefixLen);
    const leaf = this.findLeaf(key);
    if (!leaf) return false;
    const i = leaf.aliases.findIndex((a) =>
      a.route.prefixLen === prefixLen &&
      (ifindex === undefined || a.route.ifindex === ifindex) &&
      (match?.gateway === undefined || a.route.gateway === match.gateway) &&
      (match?.metric === undefined || a.route.metric === match.metric));
    if (i < 0) return false;
    const [a] = leaf.aliases.splice(i, 1);
    this.aliases.free(a!.mem);
    if (leaf.aliases.length === 0) {
      const tp = leaf.parent;
      this.putChildRoot(tp, key, null);
      this.freeNode(leaf);
      this.rebalance(tp);
    }
    return true;
  }

  /**
   * fib_table_lookup: the longest matching prefix. Where `dst` follows a node's prefix, the
   * candidates are the child on its path and, for shorter prefixes whose suffix zeroes some of
   * the node's index bits, the children reached by clearing those bits from the lowest up
   * (Linux's backtracking, `cindex &= cindex - 1`); where it leaves the prefix, only the
   * all-zero child can hold a covering prefix.
   */
  lookup(dst: number): Route | null {
    const a = this.best(this.root, dst >>> 0);
    return a ? a.route : null;
  }

  private best(n: Node | null, dst: number): Alias | null {
    if (!n) return null;
    if (n.isLeaf) return n.aliases.find((a) => aliasContains(a, n.key, dst)) ?? null;
    const idx = cindex(dst, n);
    if (idx >= n.children.length) return this.best(n.children[0]!, dst);
    let found: Alias | null = null;
    for (let c = idx; ; c &= c - 1) {
      const a = this.best(n.children[c]!, dst);
      if (a && (!found || a.route.prefixLen > found.route.prefixLen)) found = a;
      if (c === 0) break;
    }
    return found;
  }

  routes(): Route[] {
    const out: { key: number; route: Route }[] = [];
    const walk = (n: Node | null): void => {
      if (!n) return;
      if (n.isLeaf) for (const a of n.aliases) out.push({ key: n.key, route: { ...a.route } });
      else for (const c of n.children) walk(c);
    };
    walk(this.root);
    out.sort((x, y) => y.route.prefixLen - x.route.prefixLen || x.route.metric - y.route.metric || x.key - y.key);
    return out.map((x) => x.route);
  }

  memoryBytes(): number {
    let sum = this.mem.ksize(this.tableAddr);
    const walk = (n: Node | null): void => {
      if (!n) return;
      if (n.isLeaf) {
        sum += this.leafCache.objectSize;
        for (const a of n.aliases) sum += this.aliases.bytes(a.mem);
      } else {
        sum += this.mem.ksize(n.addr);
        for (const c of n.children) walk(c);
      }
    };
    walk(this.root);
    return sum;
  }

  flush(): void {
    const walk = (n: Node | null): void => {
      if (!n) return;
      if (n.isLeaf) for (const a of n.aliases) this.aliases.free(a.mem);
      else for (const c of n.children) walk(c);
      this.freeNode(n);
    };
    walk(this.root);
    this.root = null;
  }

  /** Shape of the trie, for tests and the report: node count and the widest node. */
  shape(): { leaves: number; tnodes: number; maxBits: number; depth: number } {
    const s = { leaves: 0, tnodes: 0, maxBits: 0, depth: 0 };
    const walk = (n: Node | null, d: number): void => {
      if (!n) return;
      s.depth = Math.max(s.depth, d);
      if (n.isLeaf) {
        s.leaves++;
        return;
      }
      s.tnodes++;
      s.maxBits = Math.max(s.maxBits, n.bits);
      for (const c of n.children) walk(c, d + 1);
    };
    walk(this.root, 1);
    return s;
  }

  // ------------------------------------------------------------------ resizing

  /** trie_rebalance: resize each node from `tn` up to the root. */
  private rebalance(tn: TNode | null): void {
    while (tn) tn = this.resize(tn);
  }

  private counts(tn: TNode): { empty: number; full: number } {
    let empty = 0;
    let full = 0;
    for (const c of tn.children) {
      if (!c) empty++;
      else if (isFull(tn, c)) full++;
    }
    return { empty, full };
  }

  private shouldInflate(tn: TNode): boolean {
    const len = tn.children.length;
    const { empty, full } = this.counts(tn);
    const used = len - empty + full;
    const threshold = len * (tn.parent ? INFLATE_THRESHOLD : INFLATE_THRESHOLD_ROOT);
    return used > 1 && tn.pos > 0 && 50 * used >= threshold;
  }

  private shouldHalve(tn: TNode): boolean {
    const len = tn.children.length;
    const used = len - this.counts(tn).empty;
    const threshold = len * (tn.parent ? HALVE_THRESHOLD : HALVE_THRESHOLD_ROOT);
    return used > 1 && tn.bits > 1 && 100 * used < threshold;
  }

  private shouldCollapse(tn: TNode): boolean {
    return tn.children.length - this.counts(tn).empty < 2;
  }

  /** resize(): returns the parent, from which rebalancing continues. */
  private resize(tn: TNode): TNode | null {
    let work = MAX_WORK;
    let cur = tn;
    while (work > 0 && this.shouldInflate(cur)) {
      const next = this.inflate(cur);
      if (!next) break;
      cur = next;
      work--;
    }
    if (work !== MAX_WORK) return cur.parent;
    while (work > 0 && this.shouldHalve(cur)) {
      const next = this.halve(cur);
      if (!next) break;
      cur = next;
      work--;
    }
    if (this.shouldCollapse(cur)) return this.collapse(cur);
    return cur.parent;
  }

  /**
   * inflate(): a node with one more bit. Children with skipped bits keep their subtree and
   * move to the slot their key selects; a full child (no skipped bits) is split into two
   * halves one bit narrower, or dissolved when it had only two children. Every new node is
   * allocated before anything is changed.
   */
  private inflate(old: TNode): TNode | null {
    const splits = old.children.filter((c): c is TNode => isFull(old, c) && (c as TNode).bits > 1);
    const fresh: TNode[] = [];
    const tn = this.newTNode(old.key, old.pos - 1, old.bits + 1);
    if (tn) fresh.push(tn);
    for (const inode of splits) {
      if (fresh.length !== 1 + 2 * splits.indexOf(inode)) break;
      for (const bit of [1, 0]) {
        const half = this.newTNode(bit ? (inode.key | 2 ** (old.pos - 1)) >>> 0 : inode.key, inode.pos, inode.bits - 1);
        if (half) fresh.push(half);
      }
    }
    if (!tn || fresh.length !== 1 + 2 * splits.length) {
      for (const f of fresh) this.mem.kfree(f.addr);
      this.stats.resizeFailures++;
      return null;
    }
    const dropped: TNode[] = [];
    let next = 1;
    const put = (parent: TNode, i: number, n: Node | null): void => {
      parent.children[i] = n;
      if (n) n.parent = parent;
    };
    for (let i = 0; i < old.children.length; i++) {
      const inode = old.children[i]!;
      if (!inode) continue;
      if (!isFull(old, inode)) {
        put(tn, cindex(inode.key, tn), inode);
        continue;
      }
      const full = inode as TNode;
      dropped.push(full);
      if (full.bits === 1) {
        put(tn, 2 * i + 1, full.children[1]!);
        put(tn, 2 * i, full.children[0]!);
        continue;
      }
      const node1 = fresh[next++]!;
      const node0 = fresh[next++]!;
      const half = full.children.length / 2;
      for (let j = 0; j < half; j++) {
        put(node0, j, full.children[j]!);
        put(node1, j, full.children[j + half]!);
      }
      put(tn, 2 * i + 1, node1);
      put(tn, 2 * i, node0);
    }
    for (const d of dropped) this.mem.kfree(d.addr);
    this.stats.inflates++;
    return this.replace(old, tn);
  }

  /** halve(): a node with one bit less; each pair of present children gets a one-bit node. */
  private halve(old: TNode): TNode | null {
    const pairs: number[] = [];
    for (let i = 0; i < old.children.length; i += 2) if (old.children[i] && old.children[i + 1]) pairs.push(i);
    const fresh: TNode[] = [];
    const tn = this.newTNode(old.key, old.pos + 1, old.bits - 1);
    if (tn) {
      fresh.push(tn);
      for (const i of pairs) {
        const inode = this.newTNode(old.children[i]!.key, old.pos, 1);
        if (!inode) break;
        fresh.push(inode);
      }
    }
    if (!tn || fresh.length !== 1 + pairs.length) {
      for (const f of fresh) this.mem.kfree(f.addr);
      this.stats.resizeFailures++;
      return null;
    }
    let next = 1;
    for (let i = 0; i < old.children.length; i += 2) {
      const node0 = old.children[i]!;
      const node1 = old.children[i + 1]!;
      let n: Node | null = node1 ?? node0;
      if (node0 && node1) {
        const inode = fresh[next++]!;
        inode.children[0] = node0;
        inode.children[1] = node1;
        node0.parent = inode;
        node1.parent = inode;
        n = inode;
      }
      tn.children[i / 2] = n;
      if (n) n.parent = tn;
    }
    this.stats.halves++;
    return this.replace(old, tn);
  }

  /** replace(): put `tn` where `old` was, free `old`, then resize tn's full children. */
  private replace(old: TNode, tn: TNode): TNode {
    this.putChildRoot(old.parent, tn.key, tn);
    this.mem.kfree(old.addr);
    for (let i = tn.children.length - 1; i >= 0; i--) {
      const c = tn.children[i]!;
      if (isFull(tn, c)) this.resize(c as TNode);
    }
    return tn;
  }

  /** collapse(): a node with one child (or none) is replaced by that child. */
  private collapse(old: TNode): TNode | null {
    const n = old.children.find((c) => c !== null) ?? null;
    const tp = old.parent;
    this.putChildRoot(tp, old.key, n);
    this.mem.kfree(old.addr);
    this.stats.collapses++;
    return tp;
  }
}
