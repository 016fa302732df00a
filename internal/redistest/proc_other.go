//go:build !linux

package redistest

import "os/exec"

// setPdeathsig does nothing outside Linux: TestMain stops redis-server (see
// [Stop]).
func setPdeathsig(*exec.Cmd) {}
