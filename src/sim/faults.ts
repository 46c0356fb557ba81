import type { EndpointFaults, FaultRates } from './scenario.js';
import type { Rng } from './rng.js';

export type FaultKind = keyof EndpointFaults | 'boot_failure_rate';

/**
 * Decides, with the scenario's seeded randomness, whether a fault hits one request or task.
 * A per-endpoint rate (key `METHOD /path/{template}`) replaces the global rate for that endpoint.
 */
export class Faults {
  constructor(private readonly rates: FaultRates, private readonly rng: Rng) {}

  rate(kind: FaultKind, endpoint?: string): number {
    const specific = endpoint !== undefined && kind !== 'boot_failure_rate' ? this.rates.endpoints[endpoint]?.[kind] : undefined;
    return specific ?? this.rates[kind] ?? 0;
  }

  hit(kind: FaultKind, endpoint?: string): boolean {
    return this.rng.chance(this.rate(kind, endpoint));
  }
}
