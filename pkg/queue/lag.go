package queue

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/segmentio/kafka-go"
)

// Lag is how many messages of the job topic the workers' consumer group
// has not committed, by partition: jobs waiting or running.
type Lag struct {
	ByPartition map[int]int64
	partitions  []int // the topic's partitions, as its metadata lists them
}

// Total returns the lag over all partitions: jobs accepted and not yet done.
func (l Lag) Total() int64 {
	var total int64
	for _, n := range l.ByPartition {
		total += n
	}
	return total
}

// Of returns the lag of the partition a job with this request id is
// published to (the key hash the Writer's balancer uses, over the topic's
// real partitions).
func (l Lag) Of(id string) int64 {
	if len(l.partitions) == 0 {
		return 0
	}
	return l.ByPartition[(&kafka.Murmur2Balancer{}).Balance(kafka.Message{Key: []byte(id)}, l.partitions...)]
}

// Lag reads the consumer group's lag on the job topic, over the partitions
// the topic really has (which may be more than were configured).
func (k *Kafka) Lag(ctx context.Context) (Lag, error) {
	parts, err := k.partitions(ctx)
	if err != nil {
		return Lag{}, err
	}
	var requests []kafka.OffsetRequest
	for _, p := range parts {
		requests = append(requests, kafka.FirstOffsetOf(p), kafka.LastOffsetOf(p))
	}
	ends, err := k.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{k.cfg.Topic: requests}})
	if err != nil {
		return Lag{}, fmt.Errorf("queue: log-end offsets: %w", err)
	}
	committed, err := k.client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: k.cfg.Group, Topics: map[string][]int{k.cfg.Topic: parts}})
	if err != nil {
		return Lag{}, fmt.Errorf("queue: committed offsets: %w", err)
	}
	// A group that has never committed is unknown to some brokers (kfake,
	// as `sumprimes dev` runs it) where Apache Kafka lists no offsets:
	// the same thing, nothing consumed yet.
	if committed.Error != nil && !errors.Is(committed.Error, kafka.GroupIdNotFound) {
		return Lag{}, fmt.Errorf("queue: committed offsets: %w", committed.Error)
	}
	done := map[int]int64{}
	for _, p := range committed.Topics[k.cfg.Topic] {
		if p.Error != nil {
			return Lag{}, fmt.Errorf("queue: committed offset of partition %d: %w", p.Partition, p.Error)
		}
		done[p.Partition] = p.CommittedOffset
	}
	lag := Lag{ByPartition: make(map[int]int64, len(parts)), partitions: parts}
	for _, p := range ends.Topics[k.cfg.Topic] {
		if p.Error != nil {
			return Lag{}, fmt.Errorf("queue: log-end offset of partition %d: %w", p.Partition, p.Error)
		}
		from, ok := done[p.Partition]
		if !ok || from < 0 { // nothing committed yet: the group starts at the beginning
			from = p.FirstOffset
		}
		lag.ByPartition[p.Partition] = max(0, p.LastOffset-from)
	}
	return lag, nil
}

// partitions lists the job topic's partitions from the broker's metadata.
func (k *Kafka) partitions(ctx context.Context) ([]int, error) {
	meta, err := k.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{k.cfg.Topic}})
	if err != nil {
		return nil, fmt.Errorf("queue: metadata: %w", err)
	}
	for _, t := range meta.Topics {
		if t.Error != nil {
			return nil, fmt.Errorf("queue: topic %s: %w", t.Name, t.Error)
		}
		var parts []int
		for _, p := range t.Partitions {
			if p.Error != nil {
				return nil, fmt.Errorf("queue: topic %s partition %d: %w", t.Name, p.ID, p.Error)
			}
			parts = append(parts, p.ID)
		}
		slices.Sort(parts)
		return parts, nil
	}
	return nil, fmt.Errorf("queue: topic %s missing from metadata", k.cfg.Topic)
}
