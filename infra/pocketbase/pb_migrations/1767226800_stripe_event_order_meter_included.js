// Three fields for Stripe. Conventions: see 1767225600_control_plane.js.
//
// subscriptions.last_invoice_at: `created` (epoch s) of the newest invoice event (`invoice.paid`,
// `invoice.payment_failed`) applied to the subscription.
//
// Stripe delivers events in any order. A renewal that failed and was then paid sends payment_failed before
// invoice.paid; delivered the other way round, the older failure put a paying tenant back into its payment
// grace and then downgraded it. Invoice events are ordered among themselves by this field, and an invoice
// event older than the newest subscription event applied (`last_event_at`) is stale too. It is a field of its
// own because an invoice must not make an older subscription event stale: a portal upgrade sends
// subscription.updated (the new price) and invoice.paid (its proration) in either order.
//
// subscriptions.billing_cycle_anchor: Stripe's anchor (epoch s), whose UTC day is the budget periods' anchor
// day. The day the current period started is not: Stripe starts an anchor-31 subscription's periods on
// February 28, March 31, April 30…, and periods derived from those starts reset budgets days early.
//
// budgets.meter_included_micros (tenant-scope rows): the included budget of the period as meter sync saw it,
// the largest of the tenant's plans during the period. Meter sync bills spend above it; taking the plan of the
// moment instead, a downgrade (a failed payment's grace ran out, a cancellation) billed as overage the spend
// the earlier plan had included.

const int = (name, help) => ({ name, type: "number", onlyInt: true, min: 0, help: help || "" });

migrate(
  (app) => {
    const subscriptions = app.findCollectionByNameOrId("subscriptions");
    subscriptions.fields.add(
      new Field(int("last_invoice_at", "created (epoch s) of the newest Stripe invoice event applied")),
    );
    subscriptions.fields.add(
      new Field(int("billing_cycle_anchor", "Stripe's billing_cycle_anchor (epoch s; 0 unknown)")),
    );
    app.save(subscriptions);

    const budgets = app.findCollectionByNameOrId("budgets");
    budgets.fields.add(
      new Field(
        int("meter_included_micros", "included budget of the period as meter sync bills it (0: not yet)"),
      ),
    );
    app.save(budgets);
  },
  (app) => {
    const subscriptions = app.findCollectionByNameOrId("subscriptions");
    subscriptions.fields.removeByName("last_invoice_at");
    subscriptions.fields.removeByName("billing_cycle_anchor");
    app.save(subscriptions);

    const budgets = app.findCollectionByNameOrId("budgets");
    budgets.fields.removeByName("meter_included_micros");
    app.save(budgets);
  },
);
