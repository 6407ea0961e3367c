package main

import "github.com/pocketbase/pocketbase/core"

// registerOAuth2Reclaim marks an account whose e-mail was never verified when an OAuth2 log-in links a provider to
// it (users.reclaim_pending, migration 1767226900). PocketBase resets such an account's password and drops its
// other OAuth2 links in the same transaction, because anyone can sign up with someone else's address; the flag
// tells the auth service to end what the account had been issued (sessions, API keys) before handing it over.
// Set here, before the link is saved, it is known whatever the clocks of the two hosts say and it outlives a
// reclaim that fails half-way.
func registerOAuth2Reclaim(app core.App) {
	app.OnRecordAuthWithOAuth2Request("users").BindFunc(func(e *core.RecordAuthWithOAuth2RequestEvent) error {
		// A record linking a provider while logged in as itself proved it holds the account (PocketBase keeps its
		// password then too).
		self := e.Auth != nil && e.Record != nil && e.Auth.Id == e.Record.Id &&
			e.Auth.Collection().Id == e.Record.Collection().Id
		if e.Record != nil && !e.Record.Verified() && !self {
			e.Record.Set("reclaim_pending", true)
		}
		return e.Next()
	})
}
