import { UpstreamStreamError } from "./types.ts";

/**
 * A provider may report an error in the same network read as chunks that precede it. Those chunks reach
 * the client first; the error is raised by the next `push` or `end`. One mechanism for every adapter.
 */
export class DeferredFailure {
  private pending: UpstreamStreamError | null = null;

  /** Throw the deferred error, if there is one. */
  raise(): void {
    const pending = this.pending;
    this.pending = null;
    if (pending) throw pending;
  }

  /** Run `handle` over the items. An UpstreamStreamError after some output is deferred; before any, thrown. */
  translate<T>(items: readonly T[], handle: (item: T, out: string[]) => void): string[] {
    this.raise();
    const out: string[] = [];
    try {
      for (const item of items) handle(item, out);
    } catch (error) {
      if (out.length === 0 || !(error instanceof UpstreamStreamError)) throw error;
      this.pending = error;
    }
    return out;
  }
}
