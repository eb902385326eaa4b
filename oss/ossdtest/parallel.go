package ossdtest

import (
	"flag"
	"strconv"
)

// ProcessTestsInParallel makes a test binary run up to n of its parallel
// tests at once unless -test.parallel was given; a TestMain calls it
// before m.Run. go test's default is GOMAXPROCS, which suits tests that
// compute; a process test mostly waits (for its nodes to start, elect, see
// a death through membership, replace a replica), and two at a time on
// two cores left the cores half idle.
func ProcessTestsInParallel(n int) {
	if !flag.Parsed() {
		flag.Parse()
	}
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if f := flag.Lookup("test.parallel"); f != nil && !given {
		f.Value.Set(strconv.Itoa(n))
	}
}
