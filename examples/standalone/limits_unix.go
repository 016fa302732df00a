//go:build unix

package main

import (
	"syscall"

	"github.com/chatfly/chatfly/transport/wstransport"
)

// defaultMaxConns is the open-file limit (which Go raises to the hard limit
// at start-up) less a reserve for storage connections, logs and the like,
// so that a full server refuses connections instead of failing to accept
// them (EMFILE), which would lock everyone out.
func defaultMaxConns() int {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil || r.Cur > 1<<30 {
		return wstransport.DefaultMaxConns
	}
	return max(int(r.Cur)-128, 16)
}
