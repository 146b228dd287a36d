// Package queue carries jobs from the API to the workers over Kafka.
//
// Kafka (publishing, lag) and Consumer (one consumer-group member) are the
// boundary: the API, the workers and the janitor know jobs, not Kafka, and
// each declares the part it uses. One message is one job, keyed by its
// request id, its value the job as JSON. Each cost lane (job.Lane) has a
// topic and a consumer group of its own, so a light job is never fetched
// behind a heavy one.
package queue

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
	produceapi "github.com/segmentio/kafka-go/protocol/produce"
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
	// It does not wait for the broker: commits go out in the background
	// and at Close, and only in the group generation m was fetched in.
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
	Group             string // the light lane workers' consumer group
	// HeavyTopic and HeavyGroup are the heavy lane's topic and group.
	HeavyTopic string
	HeavyGroup string
	// TaskTopic and TaskGroup carry the tasks scattered jobs are cut
	// into (job.Tasks).
	TaskTopic string
	TaskGroup string
	DLQTopic  string
	// BatchTimeout is how long a dead letter may wait to share a batch.
	// Jobs never wait for a timer: PublishAll sends what it is given at once.
	BatchTimeout time.Duration
	// TLS, when set, encrypts every connection; SASL, when set, signs
	// each in: the producer, the consumers and the admin calls alike.
	TLS  *tls.Config
	SASL sasl.Mechanism
	// ClientID names this process to the brokers; a consumer-group member
	// shows it (Members), so the workers' lease owner goes here.
	ClientID string
}

// Message is one fetched job with where it came from.
type Message struct {
	Job       job.Job
	Key       string // the request id the API published it under
	Reason    string // for a dead letter: why it could not be processed
	Partition int
	Offset    int64
	raw       kafka.Message
	gen       *generation // the group generation it was fetched in
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
	dlq       *kafka.Writer
	log       *slog.Logger
	layouts   layoutCache
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
		dlq: &kafka.Writer{
			Addr:         addr,
			Transport:    transport,
			Topic:        cfg.DLQTopic,
			RequiredAcks: kafka.RequireAll,
			BatchTimeout: cfg.BatchTimeout,
		},
	}
}

// Topic returns the topic of lane.
func (k *Kafka) Topic(lane job.Lane) string {
	switch lane {
	case job.Heavy:
		return k.cfg.HeavyTopic
	case job.Tasks:
		return k.cfg.TaskTopic
	}
	return k.cfg.Topic
}

// Group returns the consumer group of lane.
func (k *Kafka) Group(lane job.Lane) string {
	switch lane {
	case job.Heavy:
		return k.cfg.HeavyGroup
	case job.Tasks:
		return k.cfg.TaskGroup
	}
	return k.cfg.Group
}

// queues lists the lanes whose topics this queue has: the task topic's
// only when it is configured.
func (k *Kafka) queues() []job.Lane {
	if k.cfg.TaskTopic == "" {
		return job.Lanes
	}
	return job.Queues
}

// EnsureTopic creates the lanes' topics and the dead-letter topic (one
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
	topics := []kafka.TopicConfig{{Topic: k.cfg.DLQTopic, NumPartitions: 1, ReplicationFactor: k.cfg.ReplicationFactor}}
	for _, lane := range k.queues() {
		topics = append(topics, kafka.TopicConfig{Topic: k.Topic(lane), NumPartitions: k.cfg.Partitions, ReplicationFactor: k.cfg.ReplicationFactor})
	}
	resp, err := k.client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: topics})
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
		for _, lane := range k.queues()[1:] {
			if err == nil {
				_, err = k.partitions(ctx, k.Topic(lane))
			}
		}
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
	parts, err := k.partitions(ctx, k.cfg.Topic)
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
	return k.PublishAll(ctx, []job.Job{j})[0]
}

// PublishAll publishes jobs at once, each to its lane's topic and the
// partition its partition key hashes to (partitionOf), in one produce
// request per leading broker (one in all on a single broker), sent side by
// side; errs[i] is nil only once every in-sync replica has jobs[i].
// Nothing waits for a timer: a caller that wants batches gathers the jobs
// that arrive while its last call is in flight.
func (k *Kafka) PublishAll(ctx context.Context, jobs []job.Job) (errs []error) {
	errs = make([]error, len(jobs))
	byLeader := map[int]*produceBatch{}
	for i, j := range jobs {
		topic := k.Topic(j.Lane)
		if j.Task != nil {
			topic = k.Topic(job.Tasks)
		}
		l, err := k.layouts.get(ctx, topic, k.layout)
		if err != nil {
			errs[i] = fmt.Errorf("queue: publish job %s: %w", j.RequestID, err)
			continue
		}
		p := partitionOf(j, l.parts)
		b := byLeader[l.leader[p]]
		if b == nil {
			b = &produceBatch{}
			byLeader[l.leader[p]] = b
		}
		b.add(topic, p, i)
	}
	var wg sync.WaitGroup
	for _, b := range byLeader {
		wg.Go(func() {
			failed := k.produce(ctx, b, jobs)
			for _, i := range b.indexes() {
				if err := failed[i]; err != nil {
					errs[i] = fmt.Errorf("queue: publish job %s: %w", jobs[i].RequestID, err)
				}
			}
		})
	}
	wg.Wait()
	return errs
}

// partitionOf is the partition of parts that j goes to: its partition key
// hashed as Java clients hash keys (murmur2), so a batch's jobs share one;
// a task, by its index.
func partitionOf(j job.Job, parts []int) int {
	if j.Task != nil {
		// A job's tasks go round the partitions, so that the workers
		// holding them get shares of equal size.
		return parts[j.Task.Index%len(parts)]
	}
	return (&kafka.Murmur2Balancer{}).Balance(kafka.Message{Key: []byte(j.PartitionKey())}, parts...)
}

// produceBatch is what one produce request carries: job indexes by topic
// and partition.
type produceBatch struct {
	topics map[string]map[int][]int
}

func (b *produceBatch) add(topic string, partition, i int) {
	if b.topics == nil {
		b.topics = map[string]map[int][]int{}
	}
	if b.topics[topic] == nil {
		b.topics[topic] = map[int][]int{}
	}
	b.topics[topic][partition] = append(b.topics[topic][partition], i)
}

func (b *produceBatch) indexes() []int {
	var all []int
	for _, parts := range b.topics {
		for _, idx := range parts {
			all = append(all, idx...)
		}
	}
	return all
}

// produce sends one batch in one request and waits for all in-sync
// replicas, returning the error of each job that failed. A failure a retry
// may cure (the connection lost, a broker restarting, a leader moving) is
// tried again with backoff while ctx lasts, for the partitions it hit; a
// broker's refusal that will not change (a denied topic, a record too large)
// is not. A retry may store a job twice, which the worker tolerates (a
// second delivery of a job is skipped or recomputed to the same sum).
func (k *Kafka) produce(ctx context.Context, b *produceBatch, jobs []job.Job) map[int]error {
	failed := map[int]error{}
	var backoffs backoff.Backoff
	for attempt := 1; ; attempt++ {
		req := &produceapi.Request{Acks: int16(kafka.RequireAll), Timeout: 10_000}
		for topic, parts := range b.topics {
			rt := produceapi.RequestTopic{Topic: topic}
			for p, idx := range parts {
				records := make([]kafka.Record, len(idx))
				for n, i := range idx {
					value, _ := jobs[i].MarshalJSON() // a job made by job.New always encodes
					records[n] = kafka.Record{Key: kafka.NewBytes([]byte(jobs[i].RequestID)), Value: kafka.NewBytes(value)}
					if tp := jobs[i].TraceParent; tp != "" {
						records[n].Headers = []kafka.Header{{Key: "traceparent", Value: []byte(tp)}}
					}
				}
				rt.Partitions = append(rt.Partitions, produceapi.RequestPartition{
					Partition: int32(p), RecordSet: protocol.RecordSet{Records: kafka.NewRecordReader(records...)},
				})
			}
			req.Topics = append(req.Topics, rt)
		}
		retry, err := k.roundTrip(ctx, req, b, failed)
		if err == nil && len(retry.topics) == 0 {
			return failed
		}
		if err != nil { // the whole request failed: every job of it
			for _, i := range b.indexes() {
				failed[i] = err
			}
			var ke kafka.Error
			if errors.As(err, &ke) && !ke.Temporary() {
				return failed
			}
			retry = b
		}
		if attempt == maxProduceAttempts || !backoffs.Wait(ctx) {
			return failed
		}
		k.forgetLayouts(retry)
		for _, i := range retry.indexes() {
			delete(failed, i)
		}
		b = retry
	}
}

// maxProduceAttempts bounds the tries of one produce; the caller's context
// bounds their time.
const maxProduceAttempts = 8

// roundTrip sends req and sorts its answer: failed gets the errors of the
// partitions that failed, the batch returned holds those worth another try.
func (k *Kafka) roundTrip(ctx context.Context, req *produceapi.Request, b *produceBatch, failed map[int]error) (*produceBatch, error) {
	res, err := k.transport.RoundTrip(ctx, k.client.Addr, req)
	if err != nil {
		return nil, err
	}
	resp, ok := res.(*produceapi.Response)
	if !ok {
		return nil, fmt.Errorf("unexpected produce response %T", res)
	}
	retry := &produceBatch{}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if p.ErrorCode == 0 {
				continue
			}
			err := kafka.Error(p.ErrorCode)
			for _, i := range b.topics[t.Topic][int(p.Partition)] {
				failed[i] = err
				if err.Temporary() {
					retry.add(t.Topic, int(p.Partition), i)
				}
			}
		}
	}
	return retry, nil
}

// forgetLayouts drops the cached layouts of b's topics: a partition may
// have moved to another leader.
func (k *Kafka) forgetLayouts(b *produceBatch) {
	for topic := range b.topics {
		k.layouts.forget(topic)
	}
}

// Close flushes and closes the writers, then the connections they and the
// admin client used.
func (k *Kafka) Close() error {
	err := k.dlq.Close()
	k.transport.CloseIdleConnections()
	return err
}

// Consumer returns a new member of lane's consumer group; it reads its
// share of the lane's partitions.
func (k *Kafka) Consumer(lane job.Lane) Consumer { return k.consumer(k.Topic(lane), k.Group(lane)) }

// DeadLetters returns a consumer of the dead-letter topic, in a group of
// its own (the light lane's group name + "-janitor").
func (k *Kafka) DeadLetters() Consumer { return k.consumer(k.cfg.DLQTopic, k.cfg.Group+"-janitor") }

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
