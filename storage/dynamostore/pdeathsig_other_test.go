//go:build !linux

package dynamostore_test

import "os/exec"

// setPdeathsig does nothing outside Linux: TestMain stops dynalite.
func setPdeathsig(*exec.Cmd) {}
