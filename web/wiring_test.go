package web_test

import (
	"github.com/digestbot/digestbot/articles"
	"github.com/digestbot/digestbot/email"
	"github.com/digestbot/digestbot/publish"
	"github.com/digestbot/digestbot/store"
	"github.com/digestbot/digestbot/subscribers"
	"github.com/digestbot/digestbot/web"
)

// What main passes in: the real types satisfy the interfaces declared here.
var (
	_ web.Store          = (*store.Store)(nil)
	_ web.Subscriptions  = (*subscribers.Service)(nil)
	_ web.Importer       = (*articles.Importer)(nil)
	_ web.Publisher      = (*publish.Service)(nil)
	_ subscribers.Store  = (*store.Store)(nil)
	_ subscribers.Mailer = (*email.Mailer)(nil)
)
