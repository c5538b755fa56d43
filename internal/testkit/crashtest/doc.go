// Package crashtest holds crash tests that need real processes stopped at
// exact points of the gateway's protocol. TestMain builds the strife binary
// with the coordinator's gofail failpoints enabled (a copy of the module,
// see banktest.RunWithFailpoints); each test runs two banks and the gateway
// as processes of it, makes the gateway die at one point (a failpoint's
// panic, or SIGKILL while a failpoint holds it there), starts it again,
// and checks what a crash must never break: every payment answered
// COMMITTED applied exactly once at both banks, nothing moved for one that
// was not, no hold left, money conserved, and strife-recover check
// content with every file.
//
// It has no code of its own: only tests.
package crashtest
