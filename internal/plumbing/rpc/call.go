package rpc

import (
	"context"
	"sync"

	"github.com/strife-pay/strife/certs"
)

// Call is what the server learns about one call as it passes through the
// interceptors, for the audit log line written when the call ends. The
// audit interceptor (outermost) creates it; the authorization interceptor
// fills in who is calling; handlers may mark the call as a retry. It is safe
// for concurrent use: a streaming handler may touch it from its goroutines.
type Call struct {
	mu          sync.Mutex
	program     string     // CN of the verified client certificate
	programRole certs.Role // OU of that certificate
	user        string     // login user, when the call carries a valid token
	userRole    string     // "customer" or "admin"
	retry       bool
	batch       Batch
	target      string // the user an admin's call acts on
}

// Batch describes a call that carried many items (BankService.Batch): how
// many, and the smallest and largest transaction ID among them.
type Batch struct {
	Items       int
	First, Last string
}

type callKey struct{}

// WithCall returns ctx carrying c.
func WithCall(ctx context.Context, c *Call) context.Context {
	return context.WithValue(ctx, callKey{}, c)
}

// CallFrom returns the Call of ctx. Outside an audited server call it
// returns a fresh Call, so callers never need to check for nil.
func CallFrom(ctx context.Context) *Call {
	if c, ok := ctx.Value(callKey{}).(*Call); ok {
		return c
	}
	return &Call{}
}

// SetProgram records the identity proven by the client certificate.
func (c *Call) SetProgram(name string, role certs.Role) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.program, c.programRole = name, role
}

// SetUser records the user proven by the login token.
func (c *Call) SetUser(name, role string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.user, c.userRole = name, role
}

// MarkRetry records that the call repeated an earlier one (an idempotent
// replay): the audit line says so.
func (c *Call) MarkRetry() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.retry = true
}

// SetTarget records the user a call acts on when that is not the caller
// (an admin locking a user out): the audit line names them.
func (c *Call) SetTarget(user string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.target = user
}

// SetBatch records that the call carried a batch of n items whose
// transaction IDs range from first to last.
func (c *Call) SetBatch(n int, first, last string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.batch = Batch{Items: n, First: first, Last: last}
}

// CallInfo is a snapshot of a Call.
type CallInfo struct {
	Program     string
	ProgramRole certs.Role
	User        string
	UserRole    string
	Retry       bool
	Batch       Batch  // zero unless the call carried a batch
	Target      string // the user the call acted on, if not the caller
}

// Info returns a snapshot of c.
func (c *Call) Info() CallInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	return CallInfo{Program: c.program, ProgramRole: c.programRole, User: c.user, UserRole: c.userRole, Retry: c.retry, Batch: c.batch, Target: c.target}
}
