package telegram

import (
	"context"
	"errors"
	"net/http"
	"strings"
)

// Class is what a Bot API error means to the caller.
type Class int

const (
	// ClassNone: no error.
	ClassNone Class = iota
	// ClassTemporary: no answer (network, timeout), a 5xx or anything not
	// understood; try again later.
	ClassTemporary
	// ClassRateLimited: 429 "Too Many Requests: retry after N"; wait
	// APIError.RetryAfter, then resend.
	ClassRateLimited
	// ClassBlocked: the bot may not write to this chat any more — 403
	// ("Forbidden: bot was blocked by the user", "Forbidden: user is
	// deactivated", "Forbidden: bot was kicked from the group chat", …) or
	// 400 "Bad Request: chat not found". Not retried; the subscription
	// becomes blocked.
	ClassBlocked
	// ClassMigrated: 400 "Bad Request: group chat was upgraded to a
	// supergroup chat" with parameters.migrate_to_chat_id; resend there.
	ClassMigrated
	// ClassBadHTML: 400 "Bad Request: can't parse entities: …" — our
	// renderer produced HTML Telegram refuses. A bug, never retried.
	ClassBadHTML
	// ClassTooLong: 400 "Bad Request: message is too long" — the renderer
	// did not split at 4096 UTF-16 units. A bug, never retried.
	ClassTooLong
	// ClassBadRequest: any other 400.
	ClassBadRequest
	// ClassConflict: 409 "Conflict: terminated by other getUpdates
	// request" or "can't use getUpdates method while webhook is active".
	ClassConflict
	// ClassUnauthorized: 401 "Unauthorized" (or 404 "Not Found", which is
	// what a malformed token gets): the token is wrong or revoked.
	ClassUnauthorized
	// ClassCanceled: the caller's context ended.
	ClassCanceled
)

var classNames = [...]string{"none", "temporary", "rate_limited", "blocked", "migrated", "bad_html", "too_long", "bad_request", "conflict", "unauthorized", "canceled"}

func (c Class) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return "unknown"
}

// Classify sorts an error from this package into a Class. Descriptions are
// matched case-insensitively on the stable part of Telegram's texts.
func Classify(err error) Class {
	if err == nil {
		return ClassNone
	}
	var ne *NetError
	if errors.As(err, &ne) {
		// Checked first: an http.Client timeout also matches
		// context.DeadlineExceeded, but it is the network's fault.
		return ClassTemporary
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		// The caller's context ended (Call turns its own per-request
		// timeout into a NetError).
		return ClassCanceled
	}
	var ae *APIError
	if !errors.As(err, &ae) {
		return ClassTemporary
	}
	d := strings.ToLower(ae.Description)
	switch {
	case ae.Code == http.StatusTooManyRequests:
		return ClassRateLimited
	case ae.MigrateTo != 0:
		return ClassMigrated
	case ae.Code == http.StatusForbidden:
		return ClassBlocked
	case ae.Code == http.StatusUnauthorized, ae.Code == http.StatusNotFound:
		return ClassUnauthorized
	case ae.Code == http.StatusConflict:
		return ClassConflict
	case ae.Code >= 500:
		return ClassTemporary
	case ae.Code == http.StatusBadRequest:
		switch {
		case strings.Contains(d, "can't parse entities"):
			return ClassBadHTML
		case strings.Contains(d, "message is too long"):
			return ClassTooLong
		case strings.Contains(d, "chat not found"),
			strings.Contains(d, "user not found"),
			strings.Contains(d, "peer_id_invalid"),
			strings.Contains(d, "user is deactivated"),
			strings.Contains(d, "have no rights to send"),
			strings.Contains(d, "not enough rights to send"):
			return ClassBlocked
		}
		return ClassBadRequest
	}
	return ClassTemporary
}
