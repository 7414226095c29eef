// Metrics: Prometheus client types from prometheus-cpp (core only; we serve /metrics ourselves).
//
// Components receive a prometheus::Registry& in their constructor and register their families
// there; main owns the registry. Histograms of latency use kLatencyBuckets.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <string>

namespace tessera {

/// Seconds; from 1 ms to 10 s, like the Kubernetes apiserver's request latency buckets.
const prometheus::Histogram::BucketBoundaries& latencyBuckets();

/// The registry in Prometheus text exposition format 0.0.4.
std::string renderPrometheusText(const prometheus::Registry& registry);

}  // namespace tessera
