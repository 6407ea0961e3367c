// Prompt-cache writes (Anthropic's `cache_creation_input_tokens`) are billed at a premium over input, so they
// are priced and counted apart from ordinary input:
// - models.cache_write_price_micros: the price of a 5-minute cache write per 1,000,000 tokens; 0 (empty) = none,
//   a write then costs 1.25× the input price. 1-hour writes always cost 2× the input price.
// - usage_logs.cache_write_tokens: prompt tokens written to the cache (part of input_tokens, like
//   cached_input_tokens), summed by the usage_daily_totals view for the usage summary and CSV.
// Conventions: see 1767225600_control_plane.js.

const int = (name, help) => ({ name, type: "number", onlyInt: true, min: 0, help: help || "" });

const dailyTotalsSql = (withCacheWrites) => `
SELECT
  (tenant || ':' || period || ':' || substr(occurred_at, 1, 10) || ':' || model || ':' || api_key) AS id,
  tenant,
  period,
  CAST(substr(occurred_at, 1, 10) AS TEXT) AS day,
  model,
  api_key,
  CAST(COUNT(*) AS INTEGER) AS requests,
  CAST(SUM(CASE WHEN status = 'success' THEN 0 ELSE 1 END) AS INTEGER) AS failed_requests,
  CAST(SUM(input_tokens) AS INTEGER) AS input_tokens,
  CAST(SUM(cached_input_tokens) AS INTEGER) AS cached_input_tokens,${
    withCacheWrites ? "\n  CAST(SUM(cache_write_tokens) AS INTEGER) AS cache_write_tokens," : ""
  }
  CAST(SUM(output_tokens) AS INTEGER) AS output_tokens,
  CAST(SUM(cost_micros) AS INTEGER) AS cost_micros,
  CAST(SUM(billed_micros) AS INTEGER) AS billed_micros
FROM usage_logs
GROUP BY tenant, period, substr(occurred_at, 1, 10), model, api_key`;

migrate(
  (app) => {
    const models = app.findCollectionByNameOrId("models");
    models.fields.add(
      new Field(
        int(
          "cache_write_price_micros",
          "5-minute prompt-cache write price per 1,000,000 tokens (integer micro-units, 1 EUR = 1,000,000); 0 = 1.25× input",
        ),
      ),
    );
    app.save(models);

    const logs = app.findCollectionByNameOrId("usage_logs");
    logs.fields.add(new Field(int("cache_write_tokens", "prompt tokens written to the provider's cache")));
    app.save(logs);

    const daily = app.findCollectionByNameOrId("usage_daily_totals");
    daily.viewQuery = dailyTotalsSql(true);
    app.save(daily);
  },
  (app) => {
    const daily = app.findCollectionByNameOrId("usage_daily_totals");
    daily.viewQuery = dailyTotalsSql(false);
    app.save(daily);

    const logs = app.findCollectionByNameOrId("usage_logs");
    logs.fields.removeByName("cache_write_tokens");
    app.save(logs);

    const models = app.findCollectionByNameOrId("models");
    models.fields.removeByName("cache_write_price_micros");
    app.save(models);
  },
);
