package subscribers

import (
	"time"

	"github.com/digestbot/digestbot/ratelimit"
)

// Confirmation mails per address: a few at once (a reader who mistyped,
// then retried), then one every 20 minutes. Without a cap, the signup form
// would let anyone mail-bomb a stranger's inbox from our domain, a few IP
// addresses at a time, and ruin the sender reputation the digest needs.
const (
	confirmBurst = 3
	confirmEvery = 20 * time.Minute
)

// allowMail takes one of address's confirmation mails at now.
func (s *Service) allowMail(address string, now time.Time) bool {
	s.throttleOnce.Do(func() { s.throttle = ratelimit.NewKeyed(confirmBurst, confirmEvery, 0) })
	return s.throttle.Allow(address, now)
}
