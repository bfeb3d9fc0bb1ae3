package testenv

import "syscall"

// dieWithParent makes the kernel kill dynalite when the test binary ends,
// however it ends (a timeout panic skips TestMain's cleanup).
func dieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
