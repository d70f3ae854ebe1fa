package telegramtest

import (
	"encoding/json"

	"github.com/digestbot/digestbot/telegram/tghtml"
)

// The Bot API's JSON objects (https://core.telegram.org/bots/api#available-types),
// as much of them as the fake returns. Optional fields are omitted when
// empty, as Telegram does; the library's own types would print them as null.

type apiUser struct {
	ID        int64  `json:"id"`
	IsBot     bool   `json:"is_bot"`
	FirstName string `json:"first_name"`
	Username  string `json:"username,omitempty"`
	// getMe only
	CanJoinGroups           *bool `json:"can_join_groups,omitempty"`
	CanReadAllGroupMessages *bool `json:"can_read_all_group_messages,omitempty"`
	SupportsInlineQueries   *bool `json:"supports_inline_queries,omitempty"`
}

type apiChat struct {
	ID        int64  `json:"id"`
	Type      string `json:"type"` // private, group, supergroup, channel
	Title     string `json:"title,omitempty"`
	Username  string `json:"username,omitempty"`
	FirstName string `json:"first_name,omitempty"`
}

type apiEntity = tghtml.Entity

type apiMessage struct {
	MessageID          int             `json:"message_id"`
	From               *apiUser        `json:"from,omitempty"`
	SenderChat         *apiChat        `json:"sender_chat,omitempty"`
	Date               int64           `json:"date"`
	Chat               apiChat         `json:"chat"`
	EditDate           int64           `json:"edit_date,omitempty"`
	Text               string          `json:"text,omitempty"`
	Entities           []apiEntity     `json:"entities,omitempty"`
	LinkPreviewOptions json.RawMessage `json:"link_preview_options,omitempty"`
	MigrateToChatID    int64           `json:"migrate_to_chat_id,omitempty"`
	MigrateFromChatID  int64           `json:"migrate_from_chat_id,omitempty"`
	ReplyMarkup        json.RawMessage `json:"reply_markup,omitempty"`
}

type apiCallbackQuery struct {
	ID           string      `json:"id"`
	From         apiUser     `json:"from"`
	Message      *apiMessage `json:"message,omitempty"`
	ChatInstance string      `json:"chat_instance"`
	Data         string      `json:"data,omitempty"`
}

type apiChatMember struct {
	User      apiUser `json:"user"`
	Status    string  `json:"status"` // creator, administrator, member, restricted, left, kicked
	UntilDate *int64  `json:"until_date,omitempty"`
}

type apiChatMemberUpdated struct {
	Chat          apiChat       `json:"chat"`
	From          apiUser       `json:"from"`
	Date          int64         `json:"date"`
	OldChatMember apiChatMember `json:"old_chat_member"`
	NewChatMember apiChatMember `json:"new_chat_member"`
}

type apiUpdate struct {
	UpdateID      int                   `json:"update_id"`
	Message       *apiMessage           `json:"message,omitempty"`
	ChannelPost   *apiMessage           `json:"channel_post,omitempty"`
	CallbackQuery *apiCallbackQuery     `json:"callback_query,omitempty"`
	MyChatMember  *apiChatMemberUpdated `json:"my_chat_member,omitempty"`
}

// kind is the update's type as allowed_updates names it.
func (u *apiUpdate) kind() string {
	switch {
	case u.Message != nil:
		return "message"
	case u.ChannelPost != nil:
		return "channel_post"
	case u.CallbackQuery != nil:
		return "callback_query"
	case u.MyChatMember != nil:
		return "my_chat_member"
	}
	return ""
}

type apiResponse struct {
	OK          bool           `json:"ok"`
	Result      any            `json:"result,omitempty"`
	ErrorCode   int            `json:"error_code,omitempty"`
	Description string         `json:"description,omitempty"`
	Parameters  *apiParameters `json:"parameters,omitempty"`
}

type apiParameters struct {
	MigrateToChatID int64 `json:"migrate_to_chat_id,omitempty"`
	RetryAfter      int   `json:"retry_after,omitempty"`
}

type apiBotCommand struct {
	Command     string `json:"command"`
	Description string `json:"description"`
}

type apiCommandScope struct {
	Type   string          `json:"type"`
	ChatID json.RawMessage `json:"chat_id,omitempty"`
	UserID int64           `json:"user_id,omitempty"`
}

// inlineKeyboard is InlineKeyboardMarkup as the fake checks it.
type inlineKeyboard struct {
	InlineKeyboard [][]inlineButton `json:"inline_keyboard"`
}

type inlineButton struct {
	Text         string  `json:"text"`
	URL          string  `json:"url,omitempty"`
	CallbackData *string `json:"callback_data,omitempty"`
}
