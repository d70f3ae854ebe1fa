package web_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/digestbot/digestbot/store/storetest"
	"github.com/digestbot/digestbot/subscribers"
)

func TestAdminSubscriberDataRequests(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite(t))
	e.signup("reader@example.com", "World")
	e.signup("other@example.com")

	path := "/api/v1/subscribers/" + url.PathEscape("Reader@Example.com")
	wantAPIError(t, "no token", e.api("GET", path, "", ""), http.StatusUnauthorized, "bearer token")
	wantAPIError(t, "delete without a token", e.api("DELETE", path, "", ""), http.StatusUnauthorized, "bearer token")
	if got := e.sub("reader@example.com"); got.ID == 0 {
		t.Fatal("an unauthorised DELETE erased the reader")
	}

	var exp subscribers.Export
	wantJSON(t, "export", e.api("GET", path, adminToken, ""), http.StatusOK, &exp)
	if len(exp.Subscriptions) != 1 || exp.Subscriptions[0].Status != subscribers.Pending || exp.Subscriptions[0].Source != "web" ||
		exp.Subscriptions[0].Address != "reader@example.com" || exp.Subscriptions[0].Deliveries == nil {
		t.Fatalf("export %+v", exp)
	}
	wantAPIError(t, "bad address", e.api("GET", "/api/v1/subscribers/"+url.PathEscape("not an address"), adminToken, ""), http.StatusBadRequest, "email address or a Telegram chat id")
	wantAPIError(t, "unknown address", e.api("GET", "/api/v1/subscribers/nobody@example.com", adminToken, ""), http.StatusNotFound, "nothing stored")

	var del struct {
		Deleted int `json:"deleted"`
	}
	wantJSON(t, "delete", e.api("DELETE", path, adminToken, ""), http.StatusOK, &del)
	if del.Deleted != 1 {
		t.Fatalf("deleted %d", del.Deleted)
	}
	wantAPIError(t, "export after delete", e.api("GET", path, adminToken, ""), http.StatusNotFound, "nothing stored")
	wantAPIError(t, "delete again", e.api("DELETE", path, adminToken, ""), http.StatusNotFound, "nothing stored")
	wantJSON(t, "the other reader", e.api("GET", "/api/v1/subscribers/other@example.com", adminToken, ""), http.StatusOK, &exp)
}
