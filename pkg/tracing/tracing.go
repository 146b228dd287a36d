// Package tracing is the service's OpenTelemetry tracing: a tracer
// provider that exports spans over OTLP/HTTP, and the W3C trace context a
// job carries from the API to the worker in its Kafka message's headers.
// Without an endpoint it is off: the provider is OpenTelemetry's no-op, and
// nothing is exported or carried.
package tracing

import (
	"context"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Config says where spans go and how many are kept.
type Config struct {
	// Endpoint is the OTLP/HTTP collector's base URL (spans go to its
	// /v1/traces); "" turns tracing off.
	Endpoint string
	// SampleRatio is the share of new traces kept; a trace begun upstream
	// keeps its own decision.
	SampleRatio float64
	// Service names the process in its spans (service.name).
	Service string
}

// Propagator reads and writes the W3C trace context (traceparent,
// tracestate) of HTTP requests.
var Propagator propagation.TextMapPropagator = propagation.TraceContext{}

// New returns the tracer provider cfg describes and a shutdown that sends
// the spans still buffered.
func New(cfg Config) (trace.TracerProvider, func(context.Context) error, error) {
	if cfg.Endpoint == "" {
		return noop.NewTracerProvider(), func(context.Context) error { return nil }, nil
	}
	exporter, err := otlptracehttp.New(context.Background(),
		otlptracehttp.WithEndpointURL(strings.TrimSuffix(cfg.Endpoint, "/")+"/v1/traces"))
	if err != nil {
		return nil, nil, fmt.Errorf("tracing: OTLP exporter for %s: %w", cfg.Endpoint, err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exporter),
		sdktrace.WithResource(resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName(cfg.Service))),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SampleRatio))),
	)
	return tp, tp.Shutdown, nil
}

// Inject returns ctx's W3C traceparent, for a job's message to carry; ""
// when ctx carries no sampled span (tracing off, or not sampled in).
func Inject(ctx context.Context) string {
	if !trace.SpanContextFromContext(ctx).IsSampled() {
		return ""
	}
	carrier := propagation.MapCarrier{}
	Propagator.Inject(ctx, carrier)
	return carrier.Get("traceparent")
}

// Extract returns ctx with the span context traceparent names as its
// remote parent.
func Extract(ctx context.Context, traceparent string) context.Context {
	if traceparent == "" {
		return ctx
	}
	return Propagator.Extract(ctx, propagation.MapCarrier{"traceparent": traceparent})
}
