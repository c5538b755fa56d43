// Package damagetest runs the real strife-recover, strife-bank and
// strife-gateway binaries on damaged copies of realistic data files (see
// internal/testkit/damage) and requires that none of them crashes: every damage
// is one line and an exit status, or a daemon that serves. It has only
// tests; `go test -v ./internal/damagetest -run Table` prints the table of
// what each program says of each kind of damage, and STRIFE_DAMAGE_TABLE=FILE
// writes it as Markdown.
package damagetest
