// The router's JS heap allocation and garbage collection per request, read from JavaScriptCore's GC log
// (`BUN_JSC_logGC=1`, written to the process's stderr). Unlike CPU time, bytes allocated per request do not
// drift with the machine's speed, so two trees or settings compare in one run each. JSC logs each collection
// as "START <thread> <heap size>kb => EdenCollection|FullCollection ... => <size after>kb, p=... cycle <ms>ms
// END": what the heap gained between one collection's end and the next one's start was allocated then.
// (Its "bytes allocated this cycle" line appears only for collections that allocation triggered, not for
// those Bun's GC timer starts, so it undercounts.)

export interface GcWindow {
  /** KB the JS heap allocated from the last collection before the window to the last one in it. */
  allocatedKb: number;
  collections: number;
  fullCollections: number;
  /** Sum of the collections' cycle times (ms), pauses and concurrent marking alike. */
  cycleMs: number;
}

const COLLECTION =
  /START \S+ (\d+)kb => (Eden|Full)Collection[\s\S]*?=> (\d+)kb, p=[\s\S]*?cycle ([\d.]+)ms END/g;

/** What the GC log `text` says about the collections logged from character `from` on (the log's length when the window began). */
export function gcWindow(text: string, from: number): GcWindow {
  const window: GcWindow = { allocatedKb: 0, collections: 0, fullCollections: 0, cycleMs: 0 };
  let afterLast: number | null = null;
  for (const match of text.matchAll(COLLECTION)) {
    const [, before, kind, after, cycle] = match;
    if ((match.index ?? 0) >= from) {
      window.collections++;
      if (kind === "Full") window.fullCollections++;
      window.cycleMs += Number(cycle);
      if (afterLast !== null) window.allocatedKb += Math.max(0, Number(before) - afterLast);
    }
    afterLast = Number(after);
  }
  return window;
}
