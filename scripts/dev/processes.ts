import { formatLine, pipeLines } from "./logs.ts";

export interface Managed {
  name: string;
  proc: Bun.Subprocess<"ignore", "pipe", "pipe">;
}

export function spawnManaged(
  name: string,
  cmd: string[],
  options: { cwd: string; env: Record<string, string | undefined>; prefix: (name: string) => string },
): Managed {
  const proc = Bun.spawn(cmd, {
    cwd: options.cwd,
    env: options.env,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const write = (line: string) => process.stdout.write(`${options.prefix(name)} ${formatLine(line)}\n`);
  void pipeLines(proc.stdout, write);
  void pipeLines(proc.stderr, write);
  return { name, proc };
}

/** SIGTERM every process (they drain), then SIGKILL what is still alive after the grace period. */
export async function stopAll(processes: Managed[], graceMs = 12_000): Promise<void> {
  for (const { proc } of processes) if (proc.exitCode === null) proc.kill("SIGTERM");
  const deadline = Date.now() + graceMs;
  for (const { proc } of processes) {
    const left = deadline - Date.now();
    const exited = await Promise.race([
      proc.exited.then(() => true),
      Bun.sleep(Math.max(0, left)).then(() => false),
    ]);
    if (!exited) proc.kill("SIGKILL");
  }
}

export async function waitForHttp(
  url: string,
  timeoutMs: number,
  isOk = (res: Response) => res.ok,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      if (isOk(res)) return true;
    } catch {
      // not up yet
    }
    await Bun.sleep(200);
  }
  return false;
}

export async function portInUse(port: number, host = "127.0.0.1"): Promise<boolean> {
  try {
    const socket = await Bun.connect({ hostname: host, port, socket: { data() {} } });
    socket.end();
    return true;
  } catch {
    return false;
  }
}
