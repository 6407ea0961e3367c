import { countTokens } from "gpt-tokenizer";
import { describe, expect, it } from "vitest";
import { countO200kTokens } from "../../src/services/usage/tokenizer.ts";

const SAMPLES = [
  "",
  "a",
  "The quick brown fox jumps over the lazy dog. ".repeat(20),
  "function add(a: number, b: number): number { return a + b; }\n".repeat(10),
  "1234567890 12 123 1234 3.14159 -42 1e10 ".repeat(10),
  "Grüße aus Köln, déjà vu, naïve café. I'm sure they'll've done it. DON'T You're",
  "你好世界，这是一个测试。日本語のテキストも。한국어 텍스트".repeat(5),
  "😀🎉🚀 👨‍👩‍👧‍👦 🇩🇪 ".repeat(10),
  "  leading and   multiple    spaces\n\n\ttabs\r\nwindows\n   \n",
  JSON.stringify({ a: [1, 2, 3], b: "x".repeat(50), c: { d: null, "e-f": true } }),
  "a".repeat(300),
  "base64: iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
  "ḁ̶̡̢̛̗̘̙̜̝̞̟̠̣̤̥̦̩̪̫̬̭̮̯̰̱̲̳̹̺̻̼ͅ zalgo Ωμέγα Привет мир مرحبا بالعالم שלום",
  "<div class=\"x\">Hello</div>\n<script>alert('x')</script>",
];

/** Deterministic text from a mix of scripts, digits, punctuation and whitespace. */
function randomText(seed: number, length: number): string {
  const alphabet = [..."abcXYZ 0123456789.,;:!?'\"-_/\\\n\t()[]{}<>éüßñ中文字日本한국😀🚀"];
  let x = seed;
  let text = "";
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    text += alphabet[x % alphabet.length];
  }
  return text;
}

describe("o200k token counts in a few MB", () => {
  it("count what gpt-tokenizer counts for prose, code, numbers, scripts, emoji, whitespace and JSON", () => {
    for (const text of SAMPLES)
      expect(countO200kTokens(text), JSON.stringify(text.slice(0, 30))).toBe(countTokens(text));
  });

  it("count what gpt-tokenizer counts for random mixed text", () => {
    for (let seed = 1; seed <= 200; seed++) {
      const text = randomText(seed, 20 + (seed % 7) * 40);
      expect(countO200kTokens(text), JSON.stringify(text)).toBe(countTokens(text));
    }
  });
  it("counts special-token markup in a user's text as the text it is, where gpt-tokenizer throws", () => {
    const text = "hi <|endoftext|> there <|im_start|>";
    expect(() => countTokens(text)).toThrow();
    expect(countO200kTokens(text)).toBe(countTokens(text, { disallowedSpecial: new Set() }));
  });
  it("counts a 20 KB word in chunks, within 1 % of the exact count", () => {
    const word = "abcdefghijklmnopqrstuvwxyzqwerty".repeat(625);
    const exact = countTokens(word);
    expect(Math.abs(countO200kTokens(word) - exact)).toBeLessThanOrEqual(exact / 100);
  });
});
