package email

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// ProbeSMTP checks that an SMTP server answers at host:port: it connects,
// reads the 220 greeting and says QUIT, without authenticating or sending.
// With implicitTLS the greeting is not read (it comes inside TLS); the TCP
// connection is the check. /readyz calls it.
func ProbeSMTP(ctx context.Context, host string, port int, implicitTLS bool) error {
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("email: smtp %s: %w", addr, err)
	}
	defer conn.Close()
	if implicitTLS {
		return nil
	}
	deadline := time.Now().Add(5 * time.Second)
	if d, ok := ctx.Deadline(); ok {
		deadline = d
	}
	if err := conn.SetDeadline(deadline); err != nil {
		return fmt.Errorf("email: smtp %s: %w", addr, err)
	}
	r := bufio.NewReader(conn)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return fmt.Errorf("email: smtp %s: no greeting: %w", addr, err)
		}
		if !strings.HasPrefix(line, "220") {
			return fmt.Errorf("email: smtp %s: greeting %q, want 220", addr, strings.TrimSpace(line))
		}
		if len(line) < 4 || line[3] != '-' { // the last line of a multi-line reply
			break
		}
	}
	_, _ = conn.Write([]byte("QUIT\r\n"))
	return nil
}
