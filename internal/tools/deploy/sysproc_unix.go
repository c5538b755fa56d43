//go:build unix && !linux

package deploy

import (
	"os/signal"
	"syscall"
)

// sysProcAttr puts a child in a process group of its own, so that the
// terminal's Ctrl-C reaches up alone and up stops the children in order.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// ignoreBackgroundRead: see sysproc_linux.go.
func ignoreBackgroundRead() { signal.Ignore(syscall.SIGTTIN) }
