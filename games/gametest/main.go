package gametest

import (
	"flag"
	"os"
	"strconv"
	"testing"
)

// Main runs the tests of a game package from its TestMain with rapid's
// number of checks per property lowered to checks, unless the -rapid.checks
// flag or the RAPID_CHECKS variable sets it: every check plays a whole game
// with many steps, so a few dozen keep the suite fast under the race
// detector.
//
//	func TestMain(m *testing.M) { gametest.Main(m, 50) }
func Main(m *testing.M, checks int) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "rapid.checks" })
	if _, env := os.LookupEnv("RAPID_CHECKS"); !set && !env && flag.Lookup("rapid.checks") != nil {
		if err := flag.Set("rapid.checks", strconv.Itoa(checks)); err != nil {
			panic(err)
		}
	}
	os.Exit(m.Run())
}
