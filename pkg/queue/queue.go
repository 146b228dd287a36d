// Package queue carries jobs from the API to the workers over Kafka.
//
// Kafka (publishing, lag) and Consumer (one consumer-group member) are the
// boundary: the API, the workers and the janitor know jobs, not Kafka, and
// each declares the part it uses. One message is one job, keyed by its
// request id, its value the job as JSON.
package queue

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"

	"github.com/sumprimes/sumprimes/pkg/backoff"
	"github.com/sumprimes/sumprimes/pkg/job"
	"github.com/sumprimes/sumprimes/pkg/tlscheck"
)

// Consumer hands out jobs to one consumer-group member.
type Consumer interface {
	// Fetch blocks for the next message. A message that is not a valid job
	// comes back with an error wrapping ErrUndecodable, so the caller can
	// still commit past it.
	Fetch(ctx context.Context) (Message, error)
	// Commit marks m and every earlier message of its partition as done.
	Commit(ctx context.Context, m Message) error
	// DeadLetter copies m to the dead-letter topic with reason in its
	// headers, for a message that can never succeed; the caller then
	// commits past it so that it does not block its partition.
	DeadLetter(ctx context.Context, m Message, reason string) error
	// Close leaves the group at once, handing its partitions to the others.
	Close() error
}

// ErrUndecodable marks a message whose value is not a job.
var ErrUndecodable = errors.New("queue: message is not a job")

// Config says where the queue is and what it is called.
type Config struct {
	Brokers []string
	Topic   string
	// Partitions and ReplicationFactor are used when the topic is created;
	// a topic that exists keeps its own, and lag is read from what it has.
	Partitions        int
	ReplicationFactor int
	Group             string // the workers' consumer group
	DLQTopic          string
	// BatchTimeout is how long a publish may wait to share a batch.
	BatchTimeout time.Duration
	// TLS, when set, encrypts every connection; SASL, when set, signs
	// each in: the producer, the consumers and the admin calls alike.
	TLS  *tls.Config
	SASL sasl.Mechanism
}

// Message is one fetched job with where it came from.
type Message struct {
	Job       job.Job
	Key       string // the request id the API published it under
	Reason    string // for a dead letter: why it could not be processed
	Partition int
	Offset    int64
	raw       kafka.Message
}

// RequestID names the request m belongs to: its job's, or for a message
// that is not a job, the key it was published under when that is a request
// id. It is empty when m names no request.
func (m Message) RequestID() string {
	if m.Job.RequestID != "" {
		return m.Job.RequestID
	}
	if id, err := uuid.Parse(m.Key); err == nil {
		return id.String()
	}
	return ""
}

// Kafka publishes to and consumes from one topic.
type Kafka struct {
	cfg       Config
	transport *kafka.Transport // shared by the admin client and the writers; its connections close with Close
	client    *kafka.Client
	writer    *kafka.Writer
	dlq       *kafka.Writer
	log       *slog.Logger
}

// New returns a Kafka queue for cfg. It connects lazily.
func New(cfg Config, log *slog.Logger) *Kafka {
	addr := kafka.TCP(cfg.Brokers...)
	transport := &kafka.Transport{TLS: cfg.TLS, SASL: cfg.SASL, DialTimeout: 5 * time.Second}
	return &Kafka{
		cfg:       cfg,
		log:       log,
		transport: transport,
		client:    &kafka.Client{Addr: addr, Timeout: 10 * time.Second, Transport: transport},
		writer: &kafka.Writer{
			Addr:      addr,
			Transport: transport,
			Topic:     cfg.Topic,
			Balancer:  &kafka.Murmur2Balancer{}, // same partition per key as Java clients
			// kafka-go defaults to no acks and a 1 s batch timeout: neither
			// fits a 202 that promises durability within milliseconds.
			RequiredAcks:           kafka.RequireAll,
			BatchTimeout:           cfg.BatchTimeout,
			AllowAutoTopicCreation: false,
		},
		dlq: &kafka.Writer{
			Addr:         addr,
			Transport:    transport,
			Topic:        cfg.DLQTopic,
			RequiredAcks: kafka.RequireAll,
			BatchTimeout: cfg.BatchTimeout,
		},
	}
}

// EnsureTopic creates the job topic and the dead-letter topic (one
// partition: it is for people, not throughput) when they are missing, and
// waits until every partition has a leader, so the first publish does not
// race the broker.
// At start-up the broker may still be booting, so it retries until ctx ends.
// A broker that answers but refuses the configuration (see ErrMisconfigured)
// ends it at once.
func (k *Kafka) EnsureTopic(ctx context.Context) error {
	if k.cfg.TLS != nil && len(k.cfg.Brokers) > 0 {
		if err := misconfigured(tlscheck.Handshake(ctx, k.cfg.Brokers[0], k.cfg.TLS)); err != nil {
			return err
		}
	}
	var b backoff.Backoff
	for {
		err := k.ensureTopic(ctx)
		if err == nil {
			return nil
		}
		if err := misconfigured(err); err != nil {
			return err
		}
		k.log.Warn("kafka not ready; retrying", "brokers", k.cfg.Brokers, "error", err)
		if !b.Wait(ctx) {
			return err
		}
	}
}

func (k *Kafka) ensureTopic(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	// Metadata first: where CreateTopics answers a failed sign-in or
	// handshake with "broker not available", it gives the real reason.
	if _, err := k.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{k.cfg.Topic}}); err != nil {
		return fmt.Errorf("queue: metadata: %w", err)
	}
	resp, err := k.client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{
		{Topic: k.cfg.Topic, NumPartitions: k.cfg.Partitions, ReplicationFactor: k.cfg.ReplicationFactor},
		{Topic: k.cfg.DLQTopic, NumPartitions: 1, ReplicationFactor: k.cfg.ReplicationFactor},
	}})
	if err != nil {
		return fmt.Errorf("queue: create topics: %w", err)
	}
	for topic, err := range resp.Errors {
		if err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
			return fmt.Errorf("queue: create topic %s: %w", topic, err)
		}
	}
	for {
		err := k.Ping(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("queue: topic %s not ready: %w", k.cfg.Topic, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Ping proves the broker answers now: the topic's metadata, which kafka-go
// may answer from its cache, then the log-end offset of its first
// partition, which only that partition's leader can give.
func (k *Kafka) Ping(ctx context.Context) error {
	parts, err := k.partitions(ctx)
	if err != nil {
		return err
	}
	if len(parts) == 0 {
		return fmt.Errorf("queue: topic %s has no partitions", k.cfg.Topic)
	}
	resp, err := k.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{
		Topics: map[string][]kafka.OffsetRequest{k.cfg.Topic: {kafka.LastOffsetOf(parts[0])}},
	})
	if err != nil {
		return fmt.Errorf("queue: broker: %w", err)
	}
	for _, p := range resp.Topics[k.cfg.Topic] {
		if p.Error != nil {
			return fmt.Errorf("queue: topic %s partition %d: %w", k.cfg.Topic, p.Partition, p.Error)
		}
	}
	return nil
}

// Publish returns nil only once every in-sync replica has the job, so a nil
// error is the promise behind a 202.
func (k *Kafka) Publish(ctx context.Context, j job.Job) error {
	value, err := json.Marshal(j)
	if err != nil {
		return fmt.Errorf("queue: encode job %s: %w", j.RequestID, err)
	}
	if err := k.writer.WriteMessages(ctx, kafka.Message{Key: []byte(j.RequestID), Value: value}); err != nil {
		return fmt.Errorf("queue: publish job %s: %w", j.RequestID, err)
	}
	return nil
}

// Close flushes and closes the writers, then the connections they and the
// admin client used.
func (k *Kafka) Close() error {
	err := errors.Join(k.writer.Close(), k.dlq.Close())
	k.transport.CloseIdleConnections()
	return err
}

// Consumer returns a new consumer-group member. Each member reads its share
// of the partitions; several members in one process run jobs side by side.
func (k *Kafka) Consumer() Consumer { return k.consumer(k.cfg.Topic, k.cfg.Group) }

// DeadLetters returns a consumer of the dead-letter topic, in a group of
// its own (the workers' group name + "-janitor").
func (k *Kafka) DeadLetters() Consumer { return k.consumer(k.cfg.DLQTopic, k.cfg.Group+"-janitor") }

func (k *Kafka) consumer(topic, group string) Consumer {
	log := k.log
	return &reader{dlq: k.dlq, r: kafka.NewReader(kafka.ReaderConfig{
		Brokers: k.cfg.Brokers,
		Dialer:  &kafka.Dialer{Timeout: 10 * time.Second, DualStack: true, TLS: k.cfg.TLS, SASLMechanism: k.cfg.SASL},
		GroupID: group,
		Topic:   topic,
		// A new group must start at the beginning: jobs accepted before the
		// first worker joined are still owed a result.
		StartOffset: kafka.FirstOffset,
		MinBytes:    1,
		MaxBytes:    1 << 20,
		MaxWait:     time.Second,
		// Commits are still made only for jobs whose results are stored;
		// sending them in the background every 100 ms rather than one
		// round trip per job multiplies throughput, and a crash then
		// redelivers at most 100 ms of finished jobs, harmlessly (their
		// records are final: the worker skips them). Close flushes them.
		CommitInterval:    100 * time.Millisecond,
		HeartbeatInterval: time.Second,
		SessionTimeout:    10 * time.Second,
		RebalanceTimeout:  10 * time.Second,
		ErrorLogger: kafka.LoggerFunc(func(format string, args ...any) {
			log.Warn(fmt.Sprintf(format, args...), "component", "kafka-reader")
		}),
	})}
}

type reader struct {
	r   *kafka.Reader
	dlq *kafka.Writer
}

func (r *reader) Fetch(ctx context.Context) (Message, error) {
	m, err := r.r.FetchMessage(ctx)
	if err != nil {
		return Message{}, fmt.Errorf("queue: fetch: %w", err)
	}
	msg := Message{Key: string(m.Key), Partition: m.Partition, Offset: m.Offset, raw: m}
	for _, h := range m.Headers {
		if h.Key == "x-error" {
			msg.Reason = string(h.Value)
		}
	}
	if err := json.Unmarshal(m.Value, &msg.Job); err != nil || msg.Job.RequestID == "" {
		return msg, fmt.Errorf("%w: partition %d offset %d: %v", ErrUndecodable, m.Partition, m.Offset, err)
	}
	return msg, nil
}

func (r *reader) Commit(ctx context.Context, m Message) error {
	if err := r.r.CommitMessages(ctx, m.raw); err != nil {
		return fmt.Errorf("queue: commit partition %d offset %d: %w", m.Partition, m.Offset, err)
	}
	return nil
}

func (r *reader) DeadLetter(ctx context.Context, m Message, reason string) error {
	err := r.dlq.WriteMessages(ctx, kafka.Message{
		Key:   m.raw.Key,
		Value: m.raw.Value,
		Headers: []kafka.Header{
			{Key: "x-error", Value: []byte(reason)},
			{Key: "x-source-topic", Value: []byte(m.raw.Topic)},
			{Key: "x-source-partition", Value: []byte(strconv.Itoa(m.Partition))},
			{Key: "x-source-offset", Value: []byte(strconv.FormatInt(m.Offset, 10))},
			{Key: "x-failed-at", Value: []byte(time.Now().UTC().Format(time.RFC3339Nano))},
		},
	})
	if err != nil {
		return fmt.Errorf("queue: dead-letter partition %d offset %d: %w", m.Partition, m.Offset, err)
	}
	return nil
}

func (r *reader) Close() error { return r.r.Close() }

// Each fetches from c until ctx ends and hands every message to handle, a
// message that is not a job with its ErrUndecodable error (so that handle
// can still dead-letter it and commit past it). A failed fetch is logged
// and retried with backoff.
func Each(ctx context.Context, c Consumer, log *slog.Logger, handle func(Message, error)) {
	var fails backoff.Backoff
	for ctx.Err() == nil {
		m, err := c.Fetch(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil && !errors.Is(err, ErrUndecodable):
			log.Warn("fetch failed", "error", err)
			fails.Wait(ctx)
			continue
		}
		fails.Reset()
		handle(m, err)
	}
}
