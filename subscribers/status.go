package subscribers

import (
	"context"
	"fmt"
)

// Status changes that the channels report. Delivery calls them for an
// SMTP 5xx or a Telegram 403 before it records the delivery; the bot calls
// them for Telegram's my_chat_member and migrate_to_chat_id updates.

// MarkBounced marks subscription id bounced: its address refused the
// digest permanently. It is no longer sent anything until the reader signs
// up again.
func (s *Service) MarkBounced(ctx context.Context, id int64) error {
	return s.setStatus(ctx, id, Bounced)
}

// MarkBlocked marks subscription id blocked: the Telegram chat blocked the
// bot, left or no longer exists.
func (s *Service) MarkBlocked(ctx context.Context, id int64) error {
	return s.setStatus(ctx, id, Blocked)
}

func (s *Service) setStatus(ctx context.Context, id int64, st Status) error {
	if err := s.Store.SetSubscriptionStatus(ctx, id, st, s.now()); err != nil {
		return fmt.Errorf("subscribers: mark %d %s: %w", id, st, err)
	}
	return nil
}

// MoveChat moves subscription id to the Telegram chat address (a group
// that became a supergroup gets a new chat id): the subscription, its
// sections and its history stay.
func (s *Service) MoveChat(ctx context.Context, id int64, address string) error {
	if err := s.Store.SetSubscriptionAddress(ctx, id, address); err != nil {
		return fmt.Errorf("subscribers: move %d to chat %s: %w", id, address, err)
	}
	return nil
}
