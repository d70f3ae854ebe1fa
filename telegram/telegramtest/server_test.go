package telegramtest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// call posts a form to method and returns the status and raw body.
func call(t *testing.T, s *Server, token, method string, form url.Values) (int, string) {
	t.Helper()
	resp, err := http.PostForm(s.URL()+"/bot"+token+"/"+method, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: Content-Type %q", method, ct)
	}
	return resp.StatusCode, string(b)
}

func TestShapes(t *testing.T) {
	s := NewServer(Options{GlobalRate: -1, ChatInterval: -1, GroupInterval: -1})
	defer s.Close()
	test := func(token, method string, form url.Values, wantStatus int, want string) {
		t.Helper()
		st, body := call(t, s, token, method, form)
		if st != wantStatus || body != want {
			t.Errorf("%s %v:\n got %d %s\nwant %d %s", method, form, st, body, wantStatus, want)
		}
	}
	test("1:bad", "getMe", nil, 401, `{"ok":false,"error_code":401,"description":"Unauthorized"}`)
	test(s.Token(), "noSuchMethod", nil, 404, `{"ok":false,"error_code":404,"description":"Not Found"}`)
	test(s.Token(), "getMe", nil, 200, `{"ok":true,"result":{"id":123456,"is_bot":true,"first_name":"Digest Test Bot","username":"digest_test_bot","can_join_groups":true,"can_read_all_group_messages":false,"supports_inline_queries":false}}`)

	s.AddChat(42)
	s.Block(43)
	s.Migrate(-44, -1000000000044)
	test(s.Token(), "sendMessage", url.Values{"chat_id": {"7"}, "text": {"x"}}, 400, `{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}`)
	test(s.Token(), "sendMessage", url.Values{"chat_id": {"43"}, "text": {"x"}}, 403, `{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}`)
	test(s.Token(), "sendMessage", url.Values{"chat_id": {"-44"}, "text": {"x"}}, 400, `{"ok":false,"error_code":400,"description":"Bad Request: group chat was upgraded to a supergroup chat","parameters":{"migrate_to_chat_id":-1000000000044}}`)
	test(s.Token(), "sendMessage", url.Values{"chat_id": {"42"}, "text": {"<div>x</div>"}, "parse_mode": {"HTML"}}, 400, `{"ok":false,"error_code":400,"description":"Bad Request: can't parse entities: Unsupported start tag \"div\" at byte offset 0"}`)
	test(s.Token(), "sendMessage", url.Values{"chat_id": {"42"}, "text": {strings.Repeat("я", 4097)}}, 400, `{"ok":false,"error_code":400,"description":"Bad Request: message is too long"}`)
	test(s.Token(), "sendMessage", url.Values{"chat_id": {"42"}, "text": {"x"}, "reply_markup": {`{"inline_keyboard":[[{"text":"a","callback_data":"` + strings.Repeat("d", 65) + `"}]]}`}}, 400, `{"ok":false,"error_code":400,"description":"Bad Request: BUTTON_DATA_INVALID"}`)

	st, body := call(t, s, s.Token(), "sendMessage", url.Values{
		"chat_id": {"42"}, "text": {"<b>Hi</b> &amp; 👋"}, "parse_mode": {"HTML"},
		"link_preview_options": {`{"is_disabled":true}`},
		"reply_markup":         {`{"inline_keyboard":[[{"text":"Settings","callback_data":"settings"}]]}`},
	})
	var r struct {
		OK     bool `json:"ok"`
		Result struct {
			MessageID int `json:"message_id"`
			From      struct {
				IsBot bool `json:"is_bot"`
			} `json:"from"`
			Chat struct {
				ID   int64  `json:"id"`
				Type string `json:"type"`
			} `json:"chat"`
			Date     int64 `json:"date"`
			Text     string
			Entities []struct {
				Type           string
				Offset, Length int
			}
			LinkPreviewOptions struct {
				IsDisabled bool `json:"is_disabled"`
			} `json:"link_preview_options"`
			ReplyMarkup json.RawMessage `json:"reply_markup"`
		}
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil || st != 200 || !r.OK {
		t.Fatalf("sendMessage: %d %s (%v)", st, body, err)
	}
	res := r.Result
	if res.MessageID != 1 || !res.From.IsBot || res.Chat.ID != 42 || res.Chat.Type != "private" || res.Date == 0 ||
		res.Text != "Hi & 👋" || len(res.Entities) != 1 || res.Entities[0].Type != "bold" || res.Entities[0].Length != 2 ||
		!res.LinkPreviewOptions.IsDisabled || !strings.Contains(string(res.ReplyMarkup), "settings") {
		t.Errorf("sendMessage result %s", body)
	}
	if strings.Contains(body, "null") {
		t.Errorf("absent fields must be omitted, not null: %s", body)
	}
	msgs := s.Messages(42)
	if len(msgs) != 1 || msgs[0].Text != "<b>Hi</b> &amp; 👋" || msgs[0].ParseMode != "HTML" || msgs[0].ReplyMarkup.Buttons()[0].CallbackData != "settings" {
		t.Errorf("recorded %+v", msgs)
	}

	// editMessageText in place; the same content again is "not modified".
	form := url.Values{"chat_id": {"42"}, "message_id": {"1"}, "text": {"<i>edited</i>"}, "parse_mode": {"HTML"}}
	if st, body := call(t, s, s.Token(), "editMessageText", form); st != 200 || !strings.Contains(body, `"edit_date"`) {
		t.Errorf("edit: %d %s", st, body)
	}
	if st, body := call(t, s, s.Token(), "editMessageText", form); st != 400 || !strings.Contains(body, "message is not modified") {
		t.Errorf("second edit: %d %s", st, body)
	}
	if m := s.Messages(42); m[0].PlainText != "edited" || m[0].Edits != 1 {
		t.Errorf("after edit %+v", m[0])
	}
}

func TestRateLimit429(t *testing.T) {
	s := NewServer(Options{GlobalRate: 1000, ChatInterval: time.Second, ChatTolerance: time.Millisecond})
	defer s.Close()
	s.AddChat(1)
	form := url.Values{"chat_id": {"1"}, "text": {"x"}}
	if st, _ := call(t, s, s.Token(), "sendMessage", form); st != 200 {
		t.Fatal(st)
	}
	st, body := call(t, s, s.Token(), "sendMessage", form)
	if want := `{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 1","parameters":{"retry_after":1}}`; st != 429 || body != want {
		t.Errorf("second message within a second: %d %s", st, body)
	}
	if got := s.Stats(); got.TooManyRequests != 1 || got.Sent != 1 {
		t.Errorf("stats %+v", got)
	}
}

func TestGetUpdates(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	id := s.PushMessage(-100, 7, "/start@digest_test_bot promo")
	st, body := call(t, s, s.Token(), "getUpdates", url.Values{"timeout": {"1"}})
	want := `{"ok":true,"result":[{"update_id":` + itoa(id) + `,"message":{"message_id":1,"from":{"id":7,"is_bot":false,"first_name":"User7"},"date":`
	if st != 200 || !strings.HasPrefix(body, want) ||
		!strings.Contains(body, `"chat":{"id":-100,"type":"group","title":"Group -100"},"text":"/start@digest_test_bot promo","entities":[{"type":"bot_command","offset":0,"length":22}]}}]}`) {
		t.Errorf("getUpdates: %s", body)
	}
	// Not confirmed yet: returned again; with offset id+1 confirmed, and
	// the long poll waits for the timeout.
	if _, body := call(t, s, s.Token(), "getUpdates", nil); !strings.Contains(body, itoa(id)) {
		t.Errorf("unconfirmed update not returned again: %s", body)
	}
	start := time.Now()
	if _, body := call(t, s, s.Token(), "getUpdates", url.Values{"offset": {itoa(id + 1)}, "timeout": {"1"}}); body != `{"ok":true,"result":[]}` {
		t.Errorf("after confirming: %s", body)
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("long poll returned after %s, want about 1s", d)
	}
	if s.PendingUpdates() != 0 {
		t.Errorf("%d updates pending after confirmation", s.PendingUpdates())
	}
	// A push wakes a waiting poll at once.
	go func() {
		time.Sleep(100 * time.Millisecond)
		s.PushMessage(5, 5, "hello")
	}()
	start = time.Now()
	if _, body := call(t, s, s.Token(), "getUpdates", url.Values{"offset": {itoa(id + 1)}, "timeout": {"5"}}); !strings.Contains(body, "hello") {
		t.Errorf("woken poll: %s", body)
	}
	if time.Since(start) > 2*time.Second {
		t.Error("a pushed update did not end the long poll")
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
