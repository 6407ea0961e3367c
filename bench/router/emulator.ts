// The OpenAI emulator in its own process, so the benchmark's load generator and the router do not share
// its event loop. Prints one JSON line with its URL and key, then serves until killed.
import { startOpenAIEmulator } from "@cloudfreedom/testing";

const emulator = await startOpenAIEmulator({ record: false });
console.log(JSON.stringify({ url: emulator.url, apiKey: emulator.apiKey }));
