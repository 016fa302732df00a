//go:build !unix

package main

import "github.com/chatfly/chatfly/transport/wstransport"

// defaultMaxConns is wstransport's default where the open-file limit is not
// known.
func defaultMaxConns() int { return wstransport.DefaultMaxConns }
