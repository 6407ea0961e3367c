// budgets.set_by_operator: whether an operator set this standing limit (a contract) rather than the tenant's own
// managers. A tenant's own budget above its plan's included budget lasts only while the overage is billed: when
// the tenant moves to a plan that bills none (its subscription ended or its payment grace ran out), billing
// removes such a budget, but leaves an operator's. Conventions: see 1767225600_control_plane.js.

migrate(
  (app) => {
    const budgets = app.findCollectionByNameOrId("budgets");
    budgets.fields.add(new Field({ name: "set_by_operator", type: "bool" }));
    app.save(budgets);
    // Who set the standing tenant budgets stored before this field existed is unknown: they are kept as
    // contracts, never removed on a plan change.
    const standing = app.findRecordsByFilter(
      "budgets",
      "scope_type = 'tenant' && period = 'default'",
      "",
      0,
      0,
    );
    for (const record of standing) {
      record.set("set_by_operator", true);
      app.save(record);
    }
  },
  (app) => {
    const budgets = app.findCollectionByNameOrId("budgets");
    budgets.fields.removeByName("set_by_operator");
    app.save(budgets);
  },
);
