package queue

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/sumprimes/sumprimes/pkg/backoff"
	"github.com/sumprimes/sumprimes/pkg/job"
)

// Lag is how many messages of each lane's topic its consumer group has not
// committed, by partition: jobs waiting or running.
type Lag struct {
	ByLane     map[job.Lane]map[int]int64
	partitions map[job.Lane][]int // each topic's partitions, as its metadata lists them
}

// Total returns the lag over all lanes and partitions: jobs accepted and
// not yet done (tasks are not counted: their job is, once).
func (l Lag) Total() int64 {
	var total int64
	for _, lane := range job.Lanes {
		for _, n := range l.ByLane[lane] {
			total += n
		}
	}
	return total
}

// Tasks returns the lag of the task topic: tasks waiting or running.
func (l Lag) Tasks() int64 {
	var n int64
	for _, v := range l.ByLane[job.Tasks] {
		n += v
	}
	return n
}

// Of returns the lag of the partition j is published to: its lane's topic,
// the partition PublishAll chose for it (partitionOf).
func (l Lag) Of(j job.Job) int64 {
	parts := l.partitions[j.Lane]
	if len(parts) == 0 {
		return 0
	}
	return l.ByLane[j.Lane][partitionOf(j, parts)]
}

// Lag reads every lane's consumer-group lag, over the partitions each
// topic really has (which may be more than were configured).
func (k *Kafka) Lag(ctx context.Context) (Lag, error) {
	lag := Lag{ByLane: map[job.Lane]map[int]int64{}, partitions: map[job.Lane][]int{}}
	for _, lane := range k.queues() {
		var wait backoff.Backoff
		for try := 1; ; try++ {
			parts, byPartition, err := k.lag(ctx, k.Topic(lane), k.Group(lane))
			// A retriable answer, such as a topic just made whose
			// partitions have no leader yet, is tried again a few times.
			if kerr := kafka.Error(0); err != nil && try < 4 && errors.As(err, &kerr) && kerr.Temporary() && wait.Wait(ctx) {
				continue
			}
			if err != nil {
				return Lag{}, err
			}
			lag.ByLane[lane], lag.partitions[lane] = byPartition, parts
			break
		}
	}
	return lag, nil
}

func (k *Kafka) lag(ctx context.Context, topic, group string) ([]int, map[int]int64, error) {
	parts, err := k.partitions(ctx, topic)
	if err != nil {
		return nil, nil, err
	}
	var requests []kafka.OffsetRequest
	for _, p := range parts {
		requests = append(requests, kafka.FirstOffsetOf(p), kafka.LastOffsetOf(p))
	}
	ends, err := k.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: requests}})
	if err != nil {
		return nil, nil, fmt.Errorf("queue: log-end offsets: %w", err)
	}
	committed, err := k.committed(ctx, group, topic, parts)
	if err != nil {
		return nil, nil, fmt.Errorf("queue: committed offsets: %w", err)
	}
	// A group that has never committed is unknown to some brokers (kfake,
	// as `sumprimes dev` runs it) where Apache Kafka lists no offsets:
	// the same thing, nothing consumed yet.
	if committed.Error != nil && !errors.Is(committed.Error, kafka.GroupIdNotFound) {
		return nil, nil, fmt.Errorf("queue: committed offsets: %w", committed.Error)
	}
	done := map[int]int64{}
	for _, p := range committed.Topics[topic] {
		if p.Error != nil {
			return nil, nil, fmt.Errorf("queue: committed offset of partition %d: %w", p.Partition, p.Error)
		}
		done[p.Partition] = p.CommittedOffset
	}
	byPartition := make(map[int]int64, len(parts))
	for _, p := range ends.Topics[topic] {
		if p.Error != nil {
			return nil, nil, fmt.Errorf("queue: log-end offset of %s partition %d: %w", topic, p.Partition, p.Error)
		}
		from, ok := done[p.Partition]
		if !ok || from < 0 { // nothing committed yet: the group starts at the beginning
			from = p.FirstOffset
		}
		byPartition[p.Partition] = max(0, p.LastOffset-from)
	}
	return parts, byPartition, nil
}

// committed reads group's committed offsets of topic's parts. The group's
// coordinator may be loading or moving (a broker just started, or
// restarted): that is asked again, a few times within a second.
func (k *Kafka) committed(ctx context.Context, group, topic string, parts []int) (*kafka.OffsetFetchResponse, error) {
	for wait := 50 * time.Millisecond; ; wait *= 2 {
		resp, err := k.client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: parts}})
		refused := err
		if err == nil {
			refused = resp.Error // answered, but with an error of the group's
		}
		transient := errors.Is(refused, kafka.GroupLoadInProgress) || errors.Is(refused, kafka.GroupCoordinatorNotAvailable) ||
			errors.Is(refused, kafka.NotCoordinatorForGroup)
		if !transient || wait > 800*time.Millisecond {
			return resp, err
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return resp, err
		}
	}
}

// partitions lists a topic's partitions from the broker's metadata.
func (k *Kafka) partitions(ctx context.Context, topic string) ([]int, error) {
	l, err := k.layout(ctx, topic)
	return l.parts, err
}

// layout is a topic's partitions, sorted, and the broker leading each.
type layout struct {
	parts  []int
	leader map[int]int
}

func (k *Kafka) layout(ctx context.Context, topic string) (layout, error) {
	meta, err := k.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return layout{}, fmt.Errorf("queue: metadata: %w", err)
	}
	for _, t := range meta.Topics {
		if t.Error != nil {
			return layout{}, fmt.Errorf("queue: topic %s: %w", t.Name, t.Error)
		}
		l := layout{leader: map[int]int{}}
		for _, p := range t.Partitions {
			if p.Error != nil {
				return layout{}, fmt.Errorf("queue: topic %s partition %d: %w", t.Name, p.ID, p.Error)
			}
			l.parts = append(l.parts, p.ID)
			l.leader[p.ID] = p.Leader.ID
		}
		slices.Sort(l.parts)
		return l, nil
	}
	return layout{}, fmt.Errorf("queue: topic %s missing from metadata", topic)
}

// layoutCache remembers each topic's layout for publishing, a minute at
// most, so a publish costs no metadata round trip and a topic given more
// partitions is used fully soon after; a failed publish forgets it.
type layoutCache struct {
	mu     sync.Mutex
	topics map[string]cachedLayout
}

type cachedLayout struct {
	layout
	at time.Time
}

const layoutTTL = time.Minute

func (c *layoutCache) get(ctx context.Context, topic string, read func(context.Context, string) (layout, error)) (layout, error) {
	c.mu.Lock()
	hit, ok := c.topics[topic]
	c.mu.Unlock()
	if ok && time.Since(hit.at) < layoutTTL {
		return hit.layout, nil
	}
	l, err := read(ctx, topic)
	if err != nil {
		return layout{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.topics == nil {
		c.topics = map[string]cachedLayout{}
	}
	c.topics[topic] = cachedLayout{l, time.Now()}
	return l, nil
}

func (c *layoutCache) forget(topic string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.topics, topic)
}
