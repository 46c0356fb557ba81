import type { PoolConfig } from '../config/types.js';
import { parseRunnerName, runnerNameOfSnippet } from '../planner/names.js';
import type { ObservedSnippet } from '../planner/observation.js';
import type { SnippetStore } from './store.js';

type Delivery = PoolConfig['delivery'];

/**
 * One SnippetStore over the stores of the deliveries in use: a snippet goes where its pool's
 * `delivery` says (its file name carries the runner name, hence the pool); a leftover is removed
 * from the store that listed it, whatever pool it once had.
 */
export class RoutedSnippetStore implements SnippetStore {
  private readonly listedBy = new Map<string, SnippetStore>();

  constructor(
    private pools: readonly PoolConfig[],
    /** only the deliveries some pool uses: a store no pool uses is never listed */
    private readonly stores: ReadonlyMap<Delivery, SnippetStore>,
    private readonly fallback: SnippetStore,
  ) {}

  /** A reload: new pools route by their delivery (wire.ts refuses one that needs a store not built at start). */
  setPools(pools: readonly PoolConfig[]): void {
    this.pools = pools;
  }

  /** The deliveries whose store was built at start, and so can serve a reloaded pool. */
  serves(delivery: Delivery): boolean {
    return delivery === 'guest-agent' || this.stores.has(delivery);
  }

  private forFile(file: string): SnippetStore {
    const name = runnerNameOfSnippet(file);
    const pool = name === undefined ? undefined : parseRunnerName(this.pools, name)?.pool;
    return (pool && this.stores.get(pool.delivery)) || this.fallback;
  }

  write(node: string, file: string, content: string): Promise<void> {
    return this.forFile(file).write(node, file, content);
  }

  remove(node: string, file: string): Promise<void> {
    return (this.listedBy.get(`${node}/${file}`) ?? this.forFile(file)).remove(node, file);
  }

  async list(): Promise<ObservedSnippet[]> {
    const stores = [...new Set(this.stores.values())];
    const lists = await Promise.all(stores.map((s) => s.list()));
    this.listedBy.clear();
    const out: ObservedSnippet[] = [];
    lists.forEach((l, i) => {
      for (const s of l) {
        const key = `${s.node}/${s.file}`;
        if (this.listedBy.has(key)) continue;
        this.listedBy.set(key, stores[i]!);
        out.push(s);
      }
    });
    return out;
  }

  volid(file: string): string {
    return this.forFile(file).volid(file);
  }

  unavailable(): ReadonlyMap<string, string> {
    return this.stores.get('sftp')?.unavailable?.() ?? new Map();
  }
}
