package telegram

import (
	"context"
	"fmt"
	"log/slog"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

// ReaderCommands are the commands every reader sees in the menu (SPEC §4).
func ReaderCommands() []tgbotapi.BotCommand {
	return []tgbotapi.BotCommand{
		{Command: "start", Description: "What this bot is and when the digest comes"},
		{Command: "subscribe", Description: "Get the daily digest here"},
		{Command: "unsubscribe", Description: "Stop the digest"},
		{Command: "settings", Description: "Choose your sections and your hour"},
		{Command: "latest", Description: "The latest digest, now"},
		{Command: "email", Description: "Get the digest by email too: /email ADDRESS"},
		{Command: "forgetme", Description: "Erase everything stored about this chat"},
		{Command: "help", Description: "All commands"},
	}
}

// AdminCommands are the publisher's commands (SPEC §4), shown only in the
// admins' own chats.
func AdminCommands() []tgbotapi.BotCommand {
	return []tgbotapi.BotCommand{
		{Command: "stats", Description: "Subscribers and the last edition's deliveries"},
		{Command: "preview", Description: "The next edition, to you only: /preview [newsletter]"},
		{Command: "sendnow", Description: "Build today's edition and send it: /sendnow [newsletter]"},
		{Command: "post", Description: "Add an article: /post URL [section]"},
		{Command: "articles", Description: "Latest articles with their ids"},
		{Command: "pin", Description: "Pin an article as lead: /pin ID"},
		{Command: "hide", Description: "Hide an article: /hide ID"},
		{Command: "feeds", Description: "List feeds"},
		{Command: "addfeed", Description: "Add a feed: /addfeed URL [section]"},
		{Command: "rmfeed", Description: "Remove a feed: /rmfeed ID"},
		{Command: "pause", Description: "Pause the current edition's delivery: /pause [newsletter]"},
		{Command: "resume", Description: "Resume delivery: /resume [newsletter]"},
	}
}

// SetCommands registers the command menu with setMyCommands
// (https://core.telegram.org/bots/api#setmycommands): the reader commands
// in the default scope, for everyone, and reader plus admin commands in
// each admin's private chat (BotCommandScopeChat; a private chat's id is the
// user's id). A narrower scope replaces the default one for that chat
// (https://core.telegram.org/bots/api#determining-list-of-commands), hence
// the reader commands again.
func (c *Client) SetCommands(ctx context.Context, admins []int64) error {
	reader := ReaderCommands()
	if err := c.setMyCommands(ctx, reader, tgbotapi.NewBotCommandScopeDefault()); err != nil {
		return err
	}
	all := append(append([]tgbotapi.BotCommand{}, reader...), AdminCommands()...)
	for _, id := range admins {
		if err := c.setMyCommands(ctx, all, tgbotapi.NewBotCommandScopeChat(id)); err != nil {
			// An admin who never opened a chat with the bot gets "chat not
			// found"; the other admins still get their menu.
			if Classify(err) == ClassBlocked {
				c.log.WarnContext(ctx, "telegram: admin menu not set: the admin has not started the bot yet",
					slog.Int64("user_id", id), slog.String("error", err.Error()))
				continue
			}
			return err
		}
	}
	return nil
}

func (c *Client) setMyCommands(ctx context.Context, cmds []tgbotapi.BotCommand, scope tgbotapi.BotCommandScope) error {
	p := tgbotapi.Params{}
	if err := p.AddInterface("commands", cmds); err != nil {
		return err
	}
	if err := p.AddInterface("scope", scope); err != nil {
		return err
	}
	if _, err := c.Call(ctx, "setMyCommands", p); err != nil {
		return fmt.Errorf("telegram: setMyCommands (%s %d): %w", scope.Type, scope.ChatID, err)
	}
	return nil
}
