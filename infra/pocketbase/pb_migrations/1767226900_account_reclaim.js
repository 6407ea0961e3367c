// Two fields for taking an account back from whoever made it with someone else's address. Conventions: see
// 1767225600_control_plane.js.
//
// users.reclaim_pending (hidden): set by the host program (reclaim.go) in the same transaction in which an
// OAuth2 log-in links a provider to an account whose e-mail was never verified (PocketBase then resets its
// password). Sign-up does not verify e-mails, so the account may have been made by anyone; auth ends what it
// issued to it and clears the flag only once every step succeeded, so a reclaim cut short is finished by the
// next log-in.
//
// api_keys.created_by: the user who made the key (create or rotate), whoever it belongs to: a tenant's service
// keys (`user` empty) are revoked with the account that made them.

migrate(
  (app) => {
    const users = app.findCollectionByNameOrId("users");
    users.fields.add(new Field({ name: "reclaim_pending", type: "bool", hidden: true }));
    app.save(users);

    const keys = app.findCollectionByNameOrId("api_keys");
    keys.fields.add(new Field({ name: "created_by", type: "text", max: 64 }));
    app.save(keys);
  },
  (app) => {
    const users = app.findCollectionByNameOrId("users");
    users.fields.removeByName("reclaim_pending");
    app.save(users);

    const keys = app.findCollectionByNameOrId("api_keys");
    keys.fields.removeByName("created_by");
    app.save(keys);
  },
);
