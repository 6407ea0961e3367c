interface CircuitState {
  failures: number;
  openUntil: number;
  probing: boolean;
}

/**
 * Per-deployment circuit breaker: after `threshold` consecutive retryable failures the deployment cools
 * down for `cooldownMs`; then one request probes it (half-open) and its outcome closes or reopens it.
 * State is per router process: each instance learns a failing upstream on its own within a few requests.
 */
export class CircuitBreaker {
  private readonly states = new Map<string, CircuitState>();

  constructor(
    private readonly threshold: number,
    private readonly cooldownMs: number,
  ) {}

  /** May a request go to this deployment now? Claims the probe slot when half-open. */
  allow(id: string, now = Date.now()): boolean {
    return this.admit(id, now) !== null;
  }

  /**
   * As `allow`, saying how: `closed` (no slot involved), `probe` (this caller holds the half-open probe slot,
   * to `release` if its attempt never reaches the upstream), or null (cooling down, or another caller probes).
   */
  admit(id: string, now = Date.now()): "closed" | "probe" | null {
    const state = this.states.get(id);
    if (!state || state.failures < this.threshold) return "closed";
    if (now < state.openUntil || state.probing) return null;
    state.probing = true;
    return "probe";
  }

  /** When a cooling deployment may be probed again (ms epoch), or 0 when it is available. */
  availableAt(id: string): number {
    const state = this.states.get(id);
    return state && state.failures >= this.threshold ? state.openUntil : 0;
  }

  /** The upstream answered (even with a client error): it is alive. Closes the circuit. */
  success(id: string): void {
    this.states.delete(id);
  }

  /**
   * An attempt ended without telling us anything about the upstream's health: free the probe slot its caller
   * claimed (`admit` said `probe`; a caller that did not claim it must not free another's).
   */
  release(id: string): void {
    const state = this.states.get(id);
    if (state) state.probing = false;
  }

  /** A retryable failure; `heldProbe`: the caller held the probe slot (false: another caller's probe stays out). */
  failure(id: string, now = Date.now(), heldProbe = true): void {
    const state = this.states.get(id) ?? { failures: 0, openUntil: 0, probing: false };
    state.failures += 1;
    if (heldProbe) state.probing = false;
    if (state.failures >= this.threshold) state.openUntil = now + this.cooldownMs;
    this.states.set(id, state);
  }

  isOpen(id: string, now = Date.now()): boolean {
    const state = this.states.get(id);
    return !!state && state.failures >= this.threshold && (now < state.openUntil || state.probing);
  }
}
