package admin

import (
	"net/http"

	"github.com/objectsharing/oss/oss"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// MetricsHandler serves the node's metrics in the Prometheus exposition
// formats, for GET /metrics: node.Metrics() and the Go runtime's and the
// process's collectors, in a registry of the handler's own (so that two
// nodes in one process do not collide in the default registry). It does
// no authentication: mount it behind the admin interface's.
func MetricsHandler(node *oss.Node) http.Handler { return metricsHandler(node) }

// metricsHandler is MetricsHandler with the admin interface's own
// collectors (its refusals: oss_admin_rate_limited_total) beside the
// node's.
func metricsHandler(node *oss.Node, own ...prometheus.Collector) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		node.Metrics(),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	reg.MustRegister(own...)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		// A scrape that fails on one metric still returns the others.
		ErrorHandling: promhttp.ContinueOnError,
		// Scrapes wait for none: a slow one is refused, not queued.
		MaxRequestsInFlight: 4,
	})
}

// ownMetrics are the interface's own collectors: its refusals for rate
// (oss_admin_rate_limited_total) and, served by a Server, for a
// certificate's share of the connections (oss_admin_conns_refused_total).
func (a *api) ownMetrics(node string) []prometheus.Collector {
	own := []prometheus.Collector{a.limit.refused}
	if a.opts.connsRefused != nil {
		own = append(own, prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "oss_admin_conns_refused_total",
			Help:        "Connections to the admin interface refused (429, then closed) because their certificate held its share of the connections already (MaxConnsPerIdentity).",
			ConstLabels: prometheus.Labels{"node": node}}, a.opts.connsRefused))
	}
	return own
}
