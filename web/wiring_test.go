package web_test

import (
	"github.com/digestbot/digestbot/articles"
	"github.com/digestbot/digestbot/delivery"
	"github.com/digestbot/digestbot/digest"
	"github.com/digestbot/digestbot/store"
	"github.com/digestbot/digestbot/subscribers"
	"github.com/digestbot/digestbot/web"
)

// What main passes in: the real types satisfy the interfaces declared here.
var (
	_ web.Store          = (*store.Store)(nil)
	_ web.Subscriptions  = (*subscribers.Service)(nil)
	_ web.Importer       = (*articles.Importer)(nil)
	_ web.Editions       = (*digest.Builder)(nil)
	_ web.Fanout         = (*delivery.Fanout)(nil)
	_ subscribers.Store  = (*store.Store)(nil)
	_ subscribers.Mailer = (*delivery.Mailer)(nil)
)
