package deploy

import (
	"os/signal"
	"syscall"
)

// sysProcAttr puts a child in a process group of its own, so that the
// terminal's Ctrl-C reaches up alone and up stops the children in order,
// and has the kernel send it SIGTERM if up dies without stopping it.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}

// ignoreBackgroundRead lets up run in the background of a shell (`strife
// up &`): reading the terminal then fails, which ends the commands, instead
// of stopping up with SIGTTIN.
func ignoreBackgroundRead() { signal.Ignore(syscall.SIGTTIN) }
