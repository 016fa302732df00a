//go:build !unix

package redistest

import "errors"

var errNoSignals = errors.New("redistest: Pause and Resume need a Unix system")

// Pause is not available on this system: it returns an error.
func (s *Server) Pause() error { return errNoSignals }

// Resume is not available on this system: it returns an error.
func (s *Server) Resume() error { return errNoSignals }
