//go:build !linux

package dynamotest

import "os/exec"

// setPdeathsig does nothing outside Linux: TestMain stops dynalite (see
// [Stop]).
func setPdeathsig(*exec.Cmd) {}
