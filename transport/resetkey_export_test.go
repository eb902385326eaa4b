package transport

import "time"

// SetIdleTimeout sets how long c's connections may carry nothing before
// they end (30 s if not set), for the tests of package transport_test.
func SetIdleTimeout(c *QUICConfig, d time.Duration) { c.idleTimeout = d }
