/**
 * Delivery GUIDs already acted on. GitHub sends the same X-GitHub-Delivery again on a redelivery
 * (and to every hook subscribed to the event), so a repeat is recognised; memory stays bounded by
 * forgetting the oldest, which at worst lets a very old replay cost one early tick.
 */
export class DeliveryIds {
  private readonly seen = new Set<string>();

  constructor(private readonly max = 10_000) {}

  /** True the first time an id is offered, false for every repeat still remembered. */
  first(id: string): boolean {
    if (this.seen.has(id)) return false;
    this.seen.add(id);
    if (this.seen.size > this.max) this.seen.delete(this.seen.values().next().value!);
    return true;
  }

  get size(): number {
    return this.seen.size;
  }
}
