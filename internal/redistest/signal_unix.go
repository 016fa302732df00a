//go:build unix

package redistest

import "syscall"

// Pause stops the process (SIGSTOP) without closing its sockets: it accepts
// connections and commands but answers nothing until [Server.Resume], as a
// hung or overloaded server does.
func (s *Server) Pause() error { return s.proc.Signal(syscall.SIGSTOP) }

// Resume lets a paused process go on (SIGCONT).
func (s *Server) Resume() error { return s.proc.Signal(syscall.SIGCONT) }
