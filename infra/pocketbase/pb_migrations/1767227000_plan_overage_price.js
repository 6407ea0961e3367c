// plans.stripe_overage_price_id: the metered Stripe price (on the billing meter) that bills a plan's spend above
// its included budget. Checkout subscribes to it next to the plan's flat price, so the meter events that
// `stripe_meter_sync` sends are invoiced. "" = the plan bills no overage. Conventions: see
// 1767225600_control_plane.js.

migrate(
  (app) => {
    const plans = app.findCollectionByNameOrId("plans");
    plans.fields.add(new Field({ name: "stripe_overage_price_id", type: "text", max: 255 }));
    app.save(plans);
  },
  (app) => {
    const plans = app.findCollectionByNameOrId("plans");
    plans.fields.removeByName("stripe_overage_price_id");
    app.save(plans);
  },
);
