// Enables the batch API: workers write usage_logs and spans through /api/batch, one transaction per batch.

migrate(
  (app) => {
    const settings = app.settings();
    settings.batch.enabled = true;
    settings.batch.maxRequests = 1000;
    // Seconds a batch transaction may run; 1000 inserts take well under a second, this leaves room for a busy disk.
    settings.batch.timeout = 30;
    // 1000 spans with large attributes stay far below this.
    settings.batch.maxBodySize = 64 << 20;
    app.save(settings);
  },
  (app) => {
    // PocketBase defaults.
    const settings = app.settings();
    settings.batch.enabled = false;
    settings.batch.maxRequests = 50;
    settings.batch.timeout = 3;
    settings.batch.maxBodySize = 0;
    app.save(settings);
  },
);
