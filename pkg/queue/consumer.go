package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/sumprimes/sumprimes/pkg/backoff"
	"github.com/sumprimes/sumprimes/pkg/job"
)

// commitInterval is how often a member sends the commits asked of it.
// Commits are still made only for jobs whose results are stored; sending
// them every 100 ms rather than one round trip per job multiplies
// throughput, and a crash then redelivers at most 100 ms of finished jobs,
// harmlessly (their records are final: the worker skips them).
const commitInterval = 100 * time.Millisecond

// fetchBuffer is how many fetched messages wait for Fetch, from all the
// member's partitions together: enough that the partition readers and the
// caller rarely wait on each other.
const fetchBuffer = 256

// member is one consumer-group member. kafka-go's ConsumerGroup runs the
// group protocol; each generation gets a reader per partition assigned to
// this member, and each message remembers the generation it was fetched
// in. Its commit goes out in that generation or not at all: once the
// group has rebalanced, the partition may belong to another member that
// has committed further, and a late commit from here, sent in the new
// generation, would move the group's offset back (kafka-go's Reader does
// exactly that, which left lag that never drained after a broker restart).
type member struct {
	topic string
	group *kafka.ConsumerGroup
	dlq   *kafka.Writer
	log   *slog.Logger
	msgs  chan Message
	stop  context.CancelFunc
	done  chan struct{}
	// readerConfig is the template of the partition readers.
	readerConfig kafka.ReaderConfig
}

func (k *Kafka) consumer(topic, group string) Consumer {
	log := k.log.With("component", "kafka-consumer", "topic", topic, "group", group)
	logger := kafka.LoggerFunc(func(format string, args ...any) { log.Warn(fmt.Sprintf(format, args...)) })
	dialer := &kafka.Dialer{ClientID: k.cfg.ClientID, Timeout: 10 * time.Second, DualStack: true, TLS: k.cfg.TLS, SASLMechanism: k.cfg.SASL}
	cg, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:      group,
		Brokers: k.cfg.Brokers,
		Dialer:  dialer,
		Topics:  []string{topic},
		// A new group must start at the beginning: jobs accepted before
		// the first worker joined are still owed a result.
		StartOffset:       kafka.FirstOffset,
		HeartbeatInterval: time.Second,
		SessionTimeout:    10 * time.Second,
		RebalanceTimeout:  10 * time.Second,
		JoinGroupBackoff:  time.Second,
		ErrorLogger:       logger,
	})
	if err != nil {
		panic(fmt.Sprintf("queue: consumer group %s: %v", group, err)) // only for a config that cannot be
	}
	ctx, stop := context.WithCancel(context.Background())
	m := &member{topic: topic, group: cg, dlq: k.dlq, log: log, msgs: make(chan Message, fetchBuffer), stop: stop, done: make(chan struct{}),
		readerConfig: kafka.ReaderConfig{Brokers: k.cfg.Brokers, Dialer: dialer, Topic: topic,
			MinBytes: 1, MaxBytes: 1 << 20, MaxWait: time.Second, ErrorLogger: logger}}
	go m.run(ctx)
	return m
}

// run follows the group from generation to generation until Close.
func (m *member) run(ctx context.Context) {
	defer close(m.done)
	var fails backoff.Backoff
	for {
		g, err := m.group.Next(ctx)
		switch {
		case ctx.Err() != nil || errors.Is(err, kafka.ErrGroupClosed):
			return
		case err != nil:
			m.log.Warn("joining the group failed", "error", err)
			fails.Wait(ctx)
			continue
		}
		fails.Reset()
		gen := &generation{g: g, asked: map[int]int64{}, sent: map[int]int64{}}
		for _, a := range g.Assignments[m.topic] {
			g.Start(func(ctx context.Context) { m.fetch(ctx, gen, a.ID, a.Offset) })
		}
		g.Start(func(ctx context.Context) { gen.commitLoop(ctx, m.topic, m.log) })
	}
}

// fetch reads one assigned partition from offset until the generation
// ends, handing each message to Fetch. It must not return earlier: the
// generation ends when any of its routines does.
func (m *member) fetch(ctx context.Context, gen *generation, partition int, offset int64) {
	cfg := m.readerConfig
	cfg.Partition = partition
	r := kafka.NewReader(cfg)
	defer r.Close()
	if err := r.SetOffset(offset); err != nil {
		m.log.Error("cannot start the partition reader", "partition", partition, "offset", offset, "error", err)
		<-ctx.Done()
		return
	}
	var fails backoff.Backoff
	for {
		raw, err := r.FetchMessage(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			m.log.Warn("fetch failed", "partition", partition, "error", err)
			fails.Wait(ctx)
			continue
		}
		fails.Reset()
		select {
		case m.msgs <- Message{Key: string(raw.Key), Partition: raw.Partition, Offset: raw.Offset, raw: raw, gen: gen}:
		case <-ctx.Done():
			return
		}
	}
}

// Fetch returns the next message of the current generation, a message
// that is not a job with an error wrapping ErrUndecodable.
func (m *member) Fetch(ctx context.Context) (Message, error) {
	for {
		select {
		case <-ctx.Done():
			return Message{}, ctx.Err()
		case msg := <-m.msgs:
			if msg.gen.over() {
				continue // its partition may be another member's now
			}
			var traceParent string
			for _, h := range msg.raw.Headers {
				switch h.Key {
				case "x-error":
					msg.Reason = string(h.Value)
				case "traceparent":
					traceParent = string(h.Value)
				}
			}
			var err error
			if msg.Job, err = job.DecodeJob(msg.raw.Value); err != nil || msg.Job.RequestID == "" {
				return msg, fmt.Errorf("%w: partition %d offset %d: %v", ErrUndecodable, msg.Partition, msg.Offset, err)
			}
			msg.Job.TraceParent = traceParent
			return msg, nil
		}
	}
}

// Commit asks for msg's partition to be committed past it; the generation
// sends it within commitInterval. A message of a generation that is over
// is not committed: the partition's new owner commits it, or, if this
// member got the partition back, the next commit does.
func (m *member) Commit(_ context.Context, msg Message) error {
	if msg.gen != nil {
		msg.gen.commit(msg.Partition, msg.Offset+1)
	}
	return nil
}

func (m *member) DeadLetter(ctx context.Context, msg Message, reason string) error {
	err := m.dlq.WriteMessages(ctx, kafka.Message{
		Key:   msg.raw.Key,
		Value: msg.raw.Value,
		Headers: []kafka.Header{
			{Key: "x-error", Value: []byte(reason)},
			{Key: "x-source-topic", Value: []byte(msg.raw.Topic)},
			{Key: "x-source-partition", Value: []byte(strconv.Itoa(msg.Partition))},
			{Key: "x-source-offset", Value: []byte(strconv.FormatInt(msg.Offset, 10))},
			{Key: "x-failed-at", Value: []byte(time.Now().UTC().Format(time.RFC3339Nano))},
		},
	})
	if err != nil {
		return fmt.Errorf("queue: dead-letter partition %d offset %d: %w", msg.Partition, msg.Offset, err)
	}
	return nil
}

// Close ends the generation, sending the commits asked so far, and leaves
// the group, handing its partitions to the others at once.
func (m *member) Close() error {
	m.stop()
	err := m.group.Close()
	<-m.done
	return err
}

// generation is one group generation as this member sees it: the commits
// asked in it and those sent.
type generation struct {
	g     *kafka.Generation
	mu    sync.Mutex
	asked map[int]int64 // partition → the offset to commit (the next to read)
	sent  map[int]int64
	ended bool
}

func (gen *generation) over() bool {
	gen.mu.Lock()
	defer gen.mu.Unlock()
	return gen.ended
}

func (gen *generation) commit(partition int, next int64) {
	gen.mu.Lock()
	defer gen.mu.Unlock()
	if !gen.ended && next > gen.asked[partition] {
		gen.asked[partition] = next
	}
}

// commitLoop sends what was asked every commitInterval, and a last time
// when the generation ends (the coordinator still takes commits of a
// generation that is rebalancing, until this member rejoins).
func (gen *generation) commitLoop(ctx context.Context, topic string, log *slog.Logger) {
	tick := time.NewTicker(commitInterval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			gen.flush(topic, log, false)
		case <-ctx.Done():
			gen.flush(topic, log, true)
			return
		}
	}
}

func (gen *generation) flush(topic string, log *slog.Logger, last bool) {
	gen.mu.Lock()
	gen.ended = gen.ended || last
	offsets := map[int]int64{}
	for p, next := range gen.asked {
		if next > gen.sent[p] {
			offsets[p] = next
		}
	}
	gen.mu.Unlock()
	if len(offsets) == 0 {
		return
	}
	if err := gen.g.CommitOffsets(map[string]map[int]int64{topic: offsets}); err != nil {
		// Kept for the next tick; if the generation is over, the partition's
		// next owner sees these jobs again and finds their results stored.
		log.Warn("commit failed; jobs may be delivered again", "offsets", offsets, "error", err)
		return
	}
	gen.mu.Lock()
	for p, next := range offsets {
		gen.sent[p] = max(gen.sent[p], next)
	}
	gen.mu.Unlock()
}
