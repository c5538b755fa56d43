//go:build !unix

package deploy

import "syscall"

func sysProcAttr() *syscall.SysProcAttr { return nil }

func ignoreBackgroundRead() {}
