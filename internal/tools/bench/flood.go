package bench

import (
	"context"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

// floodClient is the certificate the login flood dials with in a
// deployment of the benchmark's own: one of its own, so that throttling it
// cannot touch the payers'.
const floodClient = "flood"

// floodUser is the user the flood guesses the password of: one that
// exists, the payee.
const floodUser = "payee"

// Logins is what a login flood (Options.LoginFlood) achieved in a level's
// window: attempts answered, and of those, how many the gateway checked
// (UNAUTHENTICATED: a bcrypt comparison ran) and how many it refused
// without checking (RESOURCE_EXHAUSTED: throttled, or every hashing slot
// taken).
type Logins struct {
	Flooders  int
	Attempts  int
	Checked   int
	Refused   int
	PerSecond float64
}

// flood runs n goroutines over conn, each logging in as floodUser with a
// wrong password in a loop, as fast as the gateway answers and without
// ever backing off (an attacker does not), until to; it counts the
// attempts that end between from and to.
func flood(conn *grpc.ClientConn, n int, from, to time.Time) Logins {
	api := strifev1.NewGatewayServiceClient(conn)
	var mu sync.Mutex
	out := Logins{Flooders: n}
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for time.Now().Before(to) {
				ctx, cancel := context.WithDeadline(context.Background(), to)
				_, err := api.Login(ctx, &strifev1.LoginRequest{Username: floodUser, Password: "not the password"})
				cancel()
				if ended := time.Now(); ended.Before(from) || ended.After(to) {
					continue
				}
				mu.Lock()
				out.Attempts++
				switch status.Code(err) {
				case codes.Unauthenticated:
					out.Checked++
				case codes.ResourceExhausted:
					out.Refused++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	out.PerSecond = float64(out.Attempts) / to.Sub(from).Seconds()
	return out
}
