import type { Logger } from "./logger.ts";

export interface Telemetry {
  enabled: boolean;
  shutdown(): Promise<void>;
}

const disabled: Telemetry = { enabled: false, shutdown: async () => {} };

/**
 * OpenTelemetry for the process (DESIGN.md §10): traces and metrics over OTLP/HTTP when
 * `OTEL_EXPORTER_OTLP_ENDPOINT` is set, otherwise off. A telemetry failure is logged, never fatal.
 * The SDK is imported lazily so a service without an endpoint pays nothing for it.
 */
export async function startTelemetry(options: {
  serviceName: string;
  version?: string;
  endpoint: string | undefined;
  logger: Logger;
}): Promise<Telemetry> {
  if (!options.endpoint) return disabled;
  const endpoint = options.endpoint.replace(/\/$/, "");
  try {
    const [
      { NodeSDK },
      { OTLPTraceExporter },
      { OTLPMetricExporter },
      { PeriodicExportingMetricReader },
      { resourceFromAttributes },
    ] = await Promise.all([
      import("@opentelemetry/sdk-node"),
      import("@opentelemetry/exporter-trace-otlp-http"),
      import("@opentelemetry/exporter-metrics-otlp-http"),
      import("@opentelemetry/sdk-metrics"),
      import("@opentelemetry/resources"),
    ]);
    const sdk = new NodeSDK({
      resource: resourceFromAttributes({
        "service.name": options.serviceName,
        "service.version": options.version ?? "0.1.0",
      }),
      traceExporter: new OTLPTraceExporter({ url: `${endpoint}/v1/traces` }),
      metricReaders: [
        new PeriodicExportingMetricReader({
          exporter: new OTLPMetricExporter({ url: `${endpoint}/v1/metrics` }),
          exportIntervalMillis: 15_000,
        }),
      ],
    });
    sdk.start();
    options.logger.info({ endpoint }, "OpenTelemetry exporting over OTLP/HTTP");
    return {
      enabled: true,
      shutdown: async () => {
        try {
          await sdk.shutdown();
        } catch (error) {
          options.logger.warn({ err: error }, "OpenTelemetry shutdown failed");
        }
      },
    };
  } catch (error) {
    options.logger.warn({ err: error }, "OpenTelemetry could not start; continuing without it");
    return disabled;
  }
}
