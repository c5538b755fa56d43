// Package cli is the strife command: the root that every subcommand of the
// one strife binary hangs from. `strife up` runs the local deployment; the
// daemons it starts are hidden subcommands of the same binary, so that a
// newcomer builds one program. Being a program's root, it is one of the few
// packages that import the daemons (DESIGN.md, "Who imports a daemon").
package cli
