package telegramtest

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/digestbot/digestbot/telegram/tghtml"
)

func ptr[T any](v T) *T { return &v }

func (s *Server) botUser() apiUser {
	return apiUser{ID: s.opts.BotID, IsBot: true, FirstName: "Digest Test Bot", Username: s.opts.BotUsername}
}

// getMe: https://core.telegram.org/bots/api#getme
func (s *Server) getMe() apiUser {
	u := s.botUser()
	// Privacy mode on: in groups the bot sees commands, not chatter.
	u.CanJoinGroups, u.CanReadAllGroupMessages, u.SupportsInlineQueries = ptr(true), ptr(false), ptr(false)
	return u
}

// getUpdates: https://core.telegram.org/bots/api#getupdates
func (s *Server) getUpdates(r *http.Request, p map[string]string) (any, *apiError) {
	s.stats.polls.Add(1)
	offset, err := intParam(p, "offset")
	if err != nil {
		return nil, badRequest("invalid offset specified")
	}
	limit, err := intParam(p, "limit")
	if err != nil || limit <= 0 || limit > 100 {
		limit = 100
	}
	timeout, err := intParam(p, "timeout")
	if err != nil || timeout < 0 {
		timeout = 0
	}
	var allowed []string
	if v, ok := p["allowed_updates"]; ok && v != "" {
		if err := json.Unmarshal([]byte(v), &allowed); err != nil {
			return nil, badRequest("can't parse allowed_updates JSON array")
		}
	}

	s.mu.Lock()
	if s.webhook != "" {
		s.mu.Unlock()
		s.stats.conflicts.Add(1)
		return nil, &apiError{code: 409, desc: "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"}
	}
	// Only one getUpdates at a time per bot: a new one terminates the one
	// still waiting, which gets 409.
	if s.poll != nil {
		close(s.poll)
	}
	mine := make(chan struct{})
	s.poll = mine
	if _, ok := p["allowed_updates"]; ok {
		s.allowed = allowed // an empty list: every type; absent: the previous setting
	}
	s.confirmLocked(offset)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		if s.poll == mine {
			s.poll = nil
		}
		s.mu.Unlock()
	}()

	timer := time.NewTimer(time.Duration(timeout) * time.Second)
	defer timer.Stop()
	for {
		s.mu.Lock()
		var out []*apiUpdate
		for _, u := range s.updates {
			if len(out) == limit {
				break
			}
			if len(s.allowed) == 0 || slices.Contains(s.allowed, u.kind()) {
				out = append(out, u)
			}
		}
		wake := s.wake
		s.mu.Unlock()
		if len(out) > 0 || timeout == 0 {
			if out == nil {
				out = []*apiUpdate{}
			}
			return out, nil
		}
		select {
		case <-wake:
		case <-mine:
			s.stats.conflicts.Add(1)
			return nil, &apiError{code: 409, desc: "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"}
		case <-timer.C:
			return []*apiUpdate{}, nil
		case <-r.Context().Done():
			return []*apiUpdate{}, nil
		}
	}
}

// confirmLocked forgets the updates an offset confirms ("An update is
// considered confirmed as soon as getUpdates is called with an offset
// higher than its update_id"; a negative offset keeps the last -offset)
// and those allowed_updates excludes.
func (s *Server) confirmLocked(offset int) {
	kept := s.updates[:0]
	for i, u := range s.updates {
		switch {
		case offset > 0 && u.UpdateID < offset:
			continue
		case offset < 0 && i < len(s.updates)+offset:
			continue
		case len(s.allowed) > 0 && !slices.Contains(s.allowed, u.kind()):
			continue
		}
		kept = append(kept, u)
	}
	clear(s.updates[len(kept):])
	s.updates = kept
}

func intParam(p map[string]string, k string) (int, error) {
	v, ok := p[k]
	if !ok || v == "" {
		return 0, nil
	}
	return strconv.Atoi(v)
}

// resolveChat parses chat_id: an integer, or "@username" of a channel.
func (s *Server) resolveChatLocked(v string) (*chat, *apiError) {
	if v == "" {
		return nil, badRequest("chat_id is empty")
	}
	if name, ok := strings.CutPrefix(v, "@"); ok {
		id, ok := s.byName[strings.ToLower(name)]
		if !ok {
			return nil, badRequest("chat not found")
		}
		return s.chats[id], nil
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return nil, badRequest("chat not found")
	}
	c := s.chatLocked(id)
	if !c.known && !s.opts.AllChatsKnown {
		return nil, badRequest("chat not found")
	}
	return c, nil
}

// reachableLocked answers for chats the bot may not write to.
func (s *Server) reachableLocked(c *chat) *apiError {
	switch {
	case c.migratedTo != 0:
		e := badRequest("group chat was upgraded to a supergroup chat")
		e.params = &apiParameters{MigrateToChatID: c.migratedTo}
		return e
	case c.deactivated:
		return &apiError{code: 403, desc: "Forbidden: user is deactivated"}
	case c.blocked && c.Type == "private":
		return &apiError{code: 403, desc: "Forbidden: bot was blocked by the user"}
	case c.blocked && c.Type == "channel":
		return &apiError{code: 403, desc: "Forbidden: bot is not a member of the channel chat"}
	case c.blocked:
		return &apiError{code: 403, desc: "Forbidden: bot was kicked from the " + c.Type + " chat"}
	}
	return nil
}

// parsedText checks text in parse mode mode as the Bot API does and
// returns what the reader sees.
func parsedText(text, mode string) (string, []apiEntity, *apiError) {
	var plain string
	var ents []apiEntity
	switch strings.ToLower(mode) {
	case "html":
		var err error
		plain, ents, err = tghtml.Parse(text)
		if err != nil {
			var pe *tghtml.ParseError
			if errors.As(err, &pe) || errors.Is(err, tghtml.ErrNotUTF8) {
				return "", nil, &apiError{code: 400, desc: err.Error()}
			}
			return "", nil, badRequest("can't parse entities: %s", err.Error())
		}
	case "":
		plain = text
	default:
		return "", nil, badRequest("unsupported parse_mode")
	}
	if strings.TrimSpace(plain) == "" {
		return "", nil, badRequest("message text is empty")
	}
	if tghtml.Len16Raw(plain) > tghtml.MaxMessageLen {
		return "", nil, badRequest("message is too long")
	}
	return plain, ents, nil
}

func parseKeyboard(v string) (*Keyboard, json.RawMessage, *apiError) {
	if v == "" {
		return nil, nil, nil
	}
	var kb inlineKeyboard
	if err := json.Unmarshal([]byte(v), &kb); err != nil || kb.InlineKeyboard == nil {
		return nil, nil, badRequest("can't parse reply keyboard markup JSON object")
	}
	out := &Keyboard{}
	for _, row := range kb.InlineKeyboard {
		var r []Button
		for _, b := range row {
			if b.Text == "" {
				return nil, nil, badRequest("text buttons are unallowed in the inline keyboard")
			}
			// callback_data: 1-64 bytes (https://core.telegram.org/bots/api#inlinekeyboardbutton).
			if b.CallbackData != nil && (len(*b.CallbackData) == 0 || len(*b.CallbackData) > 64) {
				return nil, nil, badRequest("BUTTON_DATA_INVALID")
			}
			if b.CallbackData == nil && b.URL == "" {
				return nil, nil, badRequest("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
			}
			bt := Button{Text: b.Text, URL: b.URL}
			if b.CallbackData != nil {
				bt.CallbackData = *b.CallbackData
			}
			r = append(r, bt)
		}
		out.Rows = append(out.Rows, r)
	}
	return out, json.RawMessage(v), nil
}

func parsePreview(v string) (*LinkPreviewOptions, json.RawMessage, *apiError) {
	if v == "" {
		return nil, nil, nil
	}
	var o LinkPreviewOptions
	if err := json.Unmarshal([]byte(v), &o); err != nil {
		return nil, nil, badRequest("can't parse link preview options")
	}
	return &o, json.RawMessage(v), nil
}

// messageOptions are the reply_markup and link_preview_options of
// sendMessage and editMessageText, parsed and as sent (echoed back in the
// answer).
type messageOptions struct {
	kb      *Keyboard
	kbRaw   json.RawMessage
	prev    *LinkPreviewOptions
	prevRaw json.RawMessage
}

func parseOptions(p map[string]string) (messageOptions, *apiError) {
	var o messageOptions
	var aerr *apiError
	if o.kb, o.kbRaw, aerr = parseKeyboard(p["reply_markup"]); aerr != nil {
		return o, aerr
	}
	if o.prev, o.prevRaw, aerr = parsePreview(p["link_preview_options"]); aerr != nil {
		return o, aerr
	}
	return o, nil
}

// sendMessage: https://core.telegram.org/bots/api#sendmessage
func (s *Server) sendMessage(p map[string]string) (any, *apiError) {
	text, mode := p["text"], p["parse_mode"]
	if text == "" {
		if _, ok := p["chat_id"]; !ok {
			return nil, badRequest("chat_id is empty")
		}
		return nil, badRequest("message text is empty")
	}
	paid := p["allow_paid_broadcast"] == "true"
	o, aerr := parseOptions(p)
	if aerr != nil {
		return nil, aerr
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	c, aerr := s.resolveChatLocked(p["chat_id"])
	if aerr != nil {
		return nil, aerr
	}
	// Flood control: the bot's broadcast rate, then the chat's own.
	rate := s.opts.GlobalRate
	if paid {
		rate = s.opts.PaidRate
	}
	var gInterval time.Duration
	if rate > 0 {
		gInterval = time.Duration(float64(time.Second) / rate)
		ok, wait := s.global.check(now, s.opts.GlobalTolerance)
		if s.opts.SlidingWindow {
			ok, wait = s.windowCheck(now, rate)
		}
		if !ok {
			return nil, tooMany(wait)
		}
	}
	if aerr := s.reachableLocked(c); aerr != nil {
		s.takeGlobal(now, gInterval) // refused sends count against the rate too
		return nil, aerr
	}
	cInterval := s.opts.ChatInterval
	if c.Type != "private" {
		cInterval = s.opts.GroupInterval
	}
	if cInterval > 0 {
		if ok, wait := c.gcra.check(now, s.opts.ChatTolerance); !ok {
			return nil, tooMany(wait)
		}
	}
	plain, ents, aerr := parsedText(text, mode)
	if aerr != nil {
		s.takeGlobal(now, gInterval)
		return nil, aerr
	}
	if gInterval > 0 {
		s.takeGlobal(now, gInterval)
	}
	if cInterval > 0 {
		c.gcra.take(now, cInterval)
	}

	m := &Message{
		ChatID: c.ID, MessageID: c.nextMsgID, Text: text, PlainText: plain, ParseMode: mode,
		ReplyMarkup: o.kb, LinkPreviewOptions: o.prev, AllowPaidBroadcast: paid, Time: now,
	}
	c.nextMsgID++
	c.msgs = append(c.msgs, m)
	s.sent = append(s.sent, *m)
	s.times = append(s.times, now)
	s.stats.sent.Add(1)
	s.notifyLocked()
	from := s.botUser()
	return apiMessage{
		MessageID: m.MessageID, From: &from, Date: now.Unix(), Chat: c.apiChat,
		Text: plain, Entities: ents, LinkPreviewOptions: o.prevRaw, ReplyMarkup: o.kbRaw,
	}, nil
}

// editMessageText: https://core.telegram.org/bots/api#editmessagetext
func (s *Server) editMessageText(p map[string]string) (any, *apiError) {
	text, mode := p["text"], p["parse_mode"]
	if text == "" {
		return nil, badRequest("message text is empty")
	}
	msgID, err := strconv.Atoi(p["message_id"])
	if err != nil || msgID <= 0 {
		return nil, badRequest("message identifier is not specified")
	}
	o, aerr := parseOptions(p)
	if aerr != nil {
		return nil, aerr
	}
	plain, ents, aerr := parsedText(text, mode)
	if aerr != nil {
		return nil, aerr
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	c, aerr := s.resolveChatLocked(p["chat_id"])
	if aerr != nil {
		return nil, aerr
	}
	if aerr := s.reachableLocked(c); aerr != nil {
		return nil, aerr
	}
	var m *Message
	for _, x := range c.msgs {
		if x.MessageID == msgID {
			m = x
		}
	}
	if m == nil {
		return nil, badRequest("message to edit not found")
	}
	if m.Text == text && m.ParseMode == mode && sameKeyboard(m.ReplyMarkup, o.kb) {
		return nil, badRequest("message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message")
	}
	m.Text, m.PlainText, m.ParseMode, m.ReplyMarkup, m.LinkPreviewOptions = text, plain, mode, o.kb, o.prev
	m.Edits++
	s.stats.edited.Add(1)
	s.notifyLocked()
	now := s.opts.Now()
	from := s.botUser()
	return apiMessage{
		MessageID: m.MessageID, From: &from, Date: m.Time.Unix(), EditDate: now.Unix(), Chat: c.apiChat,
		Text: plain, Entities: ents, LinkPreviewOptions: o.prevRaw, ReplyMarkup: o.kbRaw,
	}, nil
}

func sameKeyboard(a, b *Keyboard) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	if len(a.Rows) != len(b.Rows) {
		return false
	}
	for i := range a.Rows {
		if !slices.Equal(a.Rows[i], b.Rows[i]) {
			return false
		}
	}
	return true
}

// answerCallbackQuery: https://core.telegram.org/bots/api#answercallbackquery
func (s *Server) answerCallbackQuery(p map[string]string) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queries[p["callback_query_id"]]
	if q == nil || q.answered {
		return nil, badRequest("query is too old and response timeout expired or query ID is invalid")
	}
	if len(p["text"]) > 200 {
		return nil, badRequest("MESSAGE_TOO_LONG")
	}
	q.answered, q.text, q.alert = true, p["text"], p["show_alert"] == "true"
	s.notifyLocked()
	return true, nil
}

// setMyCommands: https://core.telegram.org/bots/api#setmycommands
func (s *Server) setMyCommands(p map[string]string) (any, *apiError) {
	var cmds []apiBotCommand
	if err := json.Unmarshal([]byte(p["commands"]), &cmds); err != nil {
		return nil, badRequest("can't parse commands JSON array")
	}
	if len(cmds) > 100 {
		return nil, badRequest("too many commands")
	}
	out := make([]BotCommand, 0, len(cmds))
	for _, c := range cmds {
		if !validCommand(c.Command) || c.Description == "" || len([]rune(c.Description)) > 256 {
			return nil, badRequest("BOT_COMMAND_INVALID")
		}
		out = append(out, BotCommand(c))
	}
	key := "default"
	if v := p["scope"]; v != "" {
		var sc apiCommandScope
		if err := json.Unmarshal([]byte(v), &sc); err != nil {
			return nil, badRequest("can't parse BotCommandScope JSON object")
		}
		switch sc.Type {
		case "default", "all_private_chats", "all_group_chats", "all_chat_administrators":
			key = sc.Type
		case "chat", "chat_administrators", "chat_member":
			id := strings.Trim(string(sc.ChatID), `"`)
			s.mu.Lock()
			_, aerr := s.resolveChatLocked(id)
			s.mu.Unlock()
			if aerr != nil {
				return nil, aerr
			}
			key = sc.Type + ":" + id
			if sc.Type == "chat_member" {
				key += ":" + strconv.FormatInt(sc.UserID, 10)
			}
		default:
			return nil, badRequest("unsupported bot command scope type")
		}
	}
	s.mu.Lock()
	s.commands[key] = out
	s.notifyLocked()
	s.mu.Unlock()
	return true, nil
}

// validCommand: "1-32 characters. Can contain only lowercase English
// letters, digits and underscores" (https://core.telegram.org/bots/api#botcommand).
func validCommand(c string) bool {
	if c == "" || len(c) > 32 {
		return false
	}
	for _, r := range c {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// deleteWebhook: https://core.telegram.org/bots/api#deletewebhook
func (s *Server) deleteWebhook(p map[string]string) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webhook = ""
	if p["drop_pending_updates"] == "true" {
		s.updates = nil
	}
	return true
}

// getWebhookInfo: https://core.telegram.org/bots/api#getwebhookinfo
func (s *Server) getWebhookInfo() any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return map[string]any{"url": s.webhook, "has_custom_certificate": false, "pending_update_count": len(s.updates)}
}

// ---- pushing updates ----

func (s *Server) pushLocked(u *apiUpdate) int {
	s.nextUpd++
	u.UpdateID = s.nextUpd
	s.updates = append(s.updates, u)
	s.notifyLocked()
	return u.UpdateID
}

func user(id int64) apiUser {
	return apiUser{ID: id, FirstName: "User" + strconv.FormatInt(id, 10)}
}

// commandEntity marks a leading /command (with its @botname) as Telegram
// does, so that library helpers such as Message.Command work.
func commandEntity(text string) []apiEntity {
	if !strings.HasPrefix(text, "/") {
		return nil
	}
	end := strings.IndexAny(text, " \n\t")
	if end < 0 {
		end = len(text)
	}
	if end < 2 {
		return nil
	}
	return []apiEntity{{Type: "bot_command", Offset: 0, Length: tghtml.Len16Raw(text[:end])}}
}

// PushMessage queues a text message from user userID in chat chatID
// (private when chatID > 0, a group when negative) and returns its
// update_id. The chat becomes known, as a chat that wrote to the bot is.
func (s *Server) PushMessage(chatID, userID int64, text string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chatLocked(chatID)
	c.known = true
	from := user(userID)
	m := &apiMessage{
		MessageID: c.nextMsgID, From: &from, Date: s.opts.Now().Unix(), Chat: c.apiChat,
		Text: text, Entities: commandEntity(text),
	}
	c.nextMsgID++
	return s.pushLocked(&apiUpdate{Message: m})
}

// PushChannelPost queues a post in a channel added with AddChannel.
func (s *Server) PushChannelPost(chatID int64, text string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chatLocked(chatID)
	c.known = true
	m := &apiMessage{
		MessageID: c.nextMsgID, SenderChat: &c.apiChat, Date: s.opts.Now().Unix(), Chat: c.apiChat,
		Text: text, Entities: commandEntity(text),
	}
	c.nextMsgID++
	return s.pushLocked(&apiUpdate{ChannelPost: m})
}

// PushMigration queues the service message Telegram sends in a group that
// became a supergroup (message.migrate_to_chat_id) and applies Migrate.
func (s *Server) PushMigration(oldID, newID int64) int {
	s.Migrate(oldID, newID)
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chats[oldID]
	from := user(1)
	m := &apiMessage{MessageID: c.nextMsgID, From: &from, Date: s.opts.Now().Unix(), Chat: c.apiChat, MigrateToChatID: newID}
	c.nextMsgID++
	return s.pushLocked(&apiUpdate{Message: m})
}

// PushCallback queues a press on an inline button with callback data of
// the bot's message messageID in chatID and returns the callback query id
// (for CallbackAnswer).
func (s *Server) PushCallback(chatID, userID int64, messageID int, data string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chatLocked(chatID)
	c.known = true
	id := strconv.FormatInt(time.Now().UnixNano(), 36) + strconv.Itoa(len(s.queries))
	s.queries[id] = &callback{}
	msg := &apiMessage{MessageID: messageID, Date: s.opts.Now().Unix(), Chat: c.apiChat}
	for _, m := range c.msgs {
		if m.MessageID == messageID {
			from := s.botUser()
			msg.From, msg.Text = &from, m.PlainText
			if m.ReplyMarkup != nil {
				msg.ReplyMarkup = keyboardJSON(m.ReplyMarkup)
			}
		}
	}
	s.pushLocked(&apiUpdate{CallbackQuery: &apiCallbackQuery{
		ID: id, From: user(userID), Message: msg, Data: data,
		ChatInstance: strconv.FormatInt(chatID*7919, 10),
	}})
	return id
}

func keyboardJSON(k *Keyboard) json.RawMessage {
	var kb inlineKeyboard
	kb.InlineKeyboard = [][]inlineButton{}
	for _, r := range k.Rows {
		row := []inlineButton{}
		for _, b := range r {
			ib := inlineButton{Text: b.Text, URL: b.URL}
			if b.CallbackData != "" {
				ib.CallbackData = ptr(b.CallbackData)
			}
			row = append(row, ib)
		}
		kb.InlineKeyboard = append(kb.InlineKeyboard, row)
	}
	b, _ := json.Marshal(kb)
	return b
}

// PushMyChatMember queues a change of the bot's own membership in chatID
// made by userID (https://core.telegram.org/bots/api#chatmemberupdated) and
// applies it: "kicked" in a private chat is the user blocking the bot,
// "left"/"kicked" in a group its removal, "member" (or "administrator")
// undoes both.
func (s *Server) PushMyChatMember(chatID, userID int64, oldStatus, newStatus string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chatLocked(chatID)
	c.known = true
	switch newStatus {
	case "kicked", "left":
		c.blocked = true
	case "member", "administrator", "creator":
		c.blocked = false
	}
	bot := s.botUser()
	member := func(st string) apiChatMember {
		m := apiChatMember{User: bot, Status: st}
		if st == "kicked" {
			m.UntilDate = ptr(int64(0))
		}
		return m
	}
	return s.pushLocked(&apiUpdate{MyChatMember: &apiChatMemberUpdated{
		Chat: c.apiChat, From: user(userID), Date: s.opts.Now().Unix(),
		OldChatMember: member(oldStatus), NewChatMember: member(newStatus),
	}})
}
