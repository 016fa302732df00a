//go:build !linux

package testproc

import "os/exec"

// setPdeathsig does nothing outside Linux: the packages' TestMain stops
// their servers (see [Main]).
func setPdeathsig(*exec.Cmd) {}
