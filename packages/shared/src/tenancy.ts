/**
 * Tenancy by subdomain (DESIGN.md §2): `<tenant>.<domain>` reaches the router for that tenant.
 */
/** Subdomains the platform itself answers on; a tenant cannot take them. */
export const RESERVED_SLUGS: ReadonlySet<string> = new Set([
  "api",
  "auth",
  "billing",
  "admin",
  "www",
  "traces",
  "analytics",
  "pb",
  "app",
  "mail",
  "status",
  "docs",
  "static",
  "cdn",
  "smtp",
  "ns1",
  "ns2",
  "localhost",
]);

/**
 * The tenant a request addresses through its Host (`acme.example.com` → `acme`), or undefined for the
 * platform's own subdomains, the bare domain, IPs and other hosts.
 */
export function tenantSlugFromHost(host: string | undefined, domain: string): string | undefined {
  const name = (host ?? "").toLowerCase().replace(/:\d+$/, "");
  const suffix = `.${domain.toLowerCase()}`;
  if (!name.endsWith(suffix)) return undefined;
  const label = name.slice(0, -suffix.length);
  if (!label || label.includes(".") || RESERVED_SLUGS.has(label)) return undefined;
  return label;
}
