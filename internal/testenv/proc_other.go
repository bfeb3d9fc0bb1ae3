//go:build !linux

package testenv

import "syscall"

// dieWithParent has no portable equivalent off Linux; Main stops dynalite.
func dieWithParent() *syscall.SysProcAttr { return nil }
