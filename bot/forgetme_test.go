package bot_test

import (
	"context"
	"errors"
	"strconv"
	"testing"

	"github.com/digestbot/digestbot/subscribers"
)

func TestForgetMe(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	wantText(t, h.say(reader, reader, "/forgetme", 1)[0], "Nothing is stored")
	h.say(reader, reader, "/subscribe", 1)
	if s := h.sub(reader); s.Status != subscribers.Active {
		t.Fatalf("subscribed: %+v", s)
	}
	wantText(t, h.say(reader, reader, "/forgetme", 1)[0], "erased")
	_, err := h.st.FindSubscription(ctx, subscribers.Telegram, strconv.FormatInt(reader, 10))
	if !errors.Is(err, subscribers.ErrNotFound) {
		t.Fatalf("after /forgetme: %v", err)
	}
	wantText(t, h.say(reader, reader, "/help", 1)[0], "/forgetme")
	wantText(t, h.say(reader, reader, "/subscribe", 1)[0], "Subscribed!")
}
