package queue

import (
	"context"
	"fmt"

	"github.com/segmentio/kafka-go"
)

// Lag returns, for each partition of the job topic, how many messages the
// workers' consumer group has not yet committed: jobs waiting or running.
func (k *Kafka) Lag(ctx context.Context) (map[int]int64, error) {
	parts := make([]int, k.cfg.Partitions)
	var requests []kafka.OffsetRequest
	for p := range parts {
		parts[p] = p
		requests = append(requests, kafka.FirstOffsetOf(p), kafka.LastOffsetOf(p))
	}
	ends, err := k.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{k.cfg.Topic: requests}})
	if err != nil {
		return nil, fmt.Errorf("queue: log-end offsets: %w", err)
	}
	committed, err := k.client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: k.cfg.Group, Topics: map[string][]int{k.cfg.Topic: parts}})
	if err != nil {
		return nil, fmt.Errorf("queue: committed offsets: %w", err)
	}
	if committed.Error != nil {
		return nil, fmt.Errorf("queue: committed offsets: %w", committed.Error)
	}
	done := map[int]int64{}
	for _, p := range committed.Topics[k.cfg.Topic] {
		if p.Error != nil {
			return nil, fmt.Errorf("queue: committed offset of partition %d: %w", p.Partition, p.Error)
		}
		done[p.Partition] = p.CommittedOffset
	}
	lag := make(map[int]int64, len(parts))
	for _, p := range ends.Topics[k.cfg.Topic] {
		if p.Error != nil {
			return nil, fmt.Errorf("queue: log-end offset of partition %d: %w", p.Partition, p.Error)
		}
		from, ok := done[p.Partition]
		if !ok || from < 0 { // nothing committed yet: the group starts at the beginning
			from = p.FirstOffset
		}
		lag[p.Partition] = max(0, p.LastOffset-from)
	}
	return lag, nil
}

// Backlog returns the total lag: jobs accepted and not yet done.
func (k *Kafka) Backlog(ctx context.Context) (int64, error) {
	lag, err := k.Lag(ctx)
	var total int64
	for _, n := range lag {
		total += n
	}
	return total, err
}

// PartitionOf returns the partition a job with this request id is published
// to: the key hash the Writer's balancer uses.
func (k *Kafka) PartitionOf(id string) int {
	parts := make([]int, k.cfg.Partitions)
	for p := range parts {
		parts[p] = p
	}
	return (&kafka.Murmur2Balancer{}).Balance(kafka.Message{Key: []byte(id)}, parts...)
}
