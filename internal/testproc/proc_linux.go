package testproc

import (
	"os/exec"
	"syscall"
)

// setPdeathsig makes the kernel kill cmd if the test binary dies without
// stopping it (a panic, a timeout).
func setPdeathsig(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
