package queue

import (
	"context"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
)

// kafka-go has no DeleteRecords (Kafka API 21); these are its version 0
// and 1 messages, in kafka-go's own protocol encoding, so that its
// transport sends them (signed in and encrypted like every other call) to
// the partition's leader.
func init() { protocol.Register(&deleteRecordsRequest{}, &deleteRecordsResponse{}) }

type deleteRecordsRequest struct {
	Topics    []deleteRecordsTopic `kafka:"min=v0,max=v1"`
	TimeoutMs int32                `kafka:"min=v0,max=v1"`
}

type deleteRecordsTopic struct {
	Name       string                   `kafka:"min=v0,max=v1"`
	Partitions []deleteRecordsPartition `kafka:"min=v0,max=v1"`
}

type deleteRecordsPartition struct {
	PartitionIndex int32 `kafka:"min=v0,max=v1"`
	Offset         int64 `kafka:"min=v0,max=v1"`
}

func (r *deleteRecordsRequest) ApiKey() protocol.ApiKey { return protocol.DeleteRecords }

// Broker is the leader of the request's one partition.
func (r *deleteRecordsRequest) Broker(cluster protocol.Cluster) (protocol.Broker, error) {
	t := r.Topics[0]
	if p, ok := cluster.Topics[t.Name].Partitions[t.Partitions[0].PartitionIndex]; ok {
		return cluster.Brokers[p.Leader], nil
	}
	return protocol.Broker{ID: -1}, fmt.Errorf("queue: no leader for %s partition %d", t.Name, t.Partitions[0].PartitionIndex)
}

type deleteRecordsResponse struct {
	ThrottleTimeMs int32                        `kafka:"min=v0,max=v1"`
	Topics         []deleteRecordsResponseTopic `kafka:"min=v0,max=v1"`
}

type deleteRecordsResponseTopic struct {
	Name       string                           `kafka:"min=v0,max=v1"`
	Partitions []deleteRecordsResponsePartition `kafka:"min=v0,max=v1"`
}

type deleteRecordsResponsePartition struct {
	PartitionIndex int32 `kafka:"min=v0,max=v1"`
	LowWatermark   int64 `kafka:"min=v0,max=v1"`
	ErrorCode      int16 `kafka:"min=v0,max=v1"`
}

func (r *deleteRecordsResponse) ApiKey() protocol.ApiKey { return protocol.DeleteRecords }

// deleteRecords deletes the records of topic's partition p below offset.
func (k *Kafka) deleteRecords(ctx context.Context, topic string, p int, offset int64) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req := &deleteRecordsRequest{TimeoutMs: 5000, Topics: []deleteRecordsTopic{{Name: topic,
		Partitions: []deleteRecordsPartition{{PartitionIndex: int32(p), Offset: offset}}}}}
	resp, err := k.transport.RoundTrip(ctx, k.client.Addr, req)
	if err != nil {
		return fmt.Errorf("queue: delete records of %s partition %d: %w", topic, p, err)
	}
	for _, t := range resp.(*deleteRecordsResponse).Topics {
		for _, part := range t.Partitions {
			if part.ErrorCode != 0 {
				return fmt.Errorf("queue: delete records of %s partition %d: %w", topic, p, kafka.Error(part.ErrorCode))
			}
		}
	}
	return nil
}
