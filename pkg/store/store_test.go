package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sumprimes/sumprimes/internal/testenv"
	"github.com/sumprimes/sumprimes/pkg/job"
	"github.com/sumprimes/sumprimes/pkg/store"
	"github.com/sumprimes/sumprimes/pkg/store/storetest"
)

func TestRedis(t *testing.T) {
	t.Parallel()
	storetest.Exercise(t, func(t *testing.T) storetest.Harness { return redisHarness(t, testenv.Redis(t)) })

	t.Run("WithdrawsARecordNoReplicaConfirms", func(t *testing.T) {
		t.Parallel()
		s := store.NewRedis(testenv.Redis(t), "sumprimes-test:"+testenv.Unique()+":", time.Minute).WaitForReplicas(1)
		ctx := context.Background()
		err := s.Create(ctx, job.Pending(job.Job{RequestID: "id-1", A: 1, B: 10, CreatedAt: time.Now()}))
		if err == nil || !strings.Contains(err.Error(), "0 of 1 replicas") {
			t.Fatalf("Create on a server without replicas = %v, want it refused", err)
		}
		if _, err := s.Get(ctx, "id-1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Get = %v, want the record withdrawn", err)
		}
		if n, _ := s.Pending(ctx); n != 0 {
			t.Fatalf("pending = %d, want the index entry withdrawn", n)
		}
	})

	t.Run("ListingsExpireWithTheirLastRecords", func(t *testing.T) {
		t.Parallel()
		client, prefix := testenv.Redis(t), "sumprimes-test:"+testenv.Unique()+":"
		s := store.NewRedis(client, prefix, time.Minute)
		ctx := context.Background()
		if err := s.Create(ctx, job.Pending(job.Job{RequestID: "id-1", Owner: "ann", A: 1, B: 10, CreatedAt: time.Now()})); err != nil {
			t.Fatal(err)
		}
		for _, key := range []string{prefix + "list", prefix + "list:ann"} {
			if ttl, err := client.PTTL(ctx, key).Result(); err != nil || ttl <= 0 || ttl > time.Minute {
				t.Fatalf("TTL of %s = %v, %v; want at most the records' minute", key, ttl, err)
			}
		}
	})

	t.Run("ReportsAnUnreachableServer", func(t *testing.T) {
		t.Parallel()
		client := store.NewClient(store.Config{Addrs: []string{"127.0.0.1:1"}})
		defer client.Close()
		s := store.NewRedis(client, "x:", time.Minute)
		if err := s.Ping(context.Background()); err == nil || errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Ping = %v, want a connection error", err)
		}
	})
}

// TestRedisCluster holds the store to the same rules on a real three-master
// Redis Cluster, where a command or script that touches keys in two slots
// fails with CROSSSLOT.
func TestRedisCluster(t *testing.T) {
	t.Parallel()
	storetest.Exercise(t, func(t *testing.T) storetest.Harness { return redisHarness(t, testenv.RedisCluster(t)) })
}

// TestRedisTLS holds the store to the same rules over mutual TLS, with a
// password, on a TLS-only server.
func TestRedisTLS(t *testing.T) {
	t.Parallel()
	storetest.Exercise(t, func(t *testing.T) storetest.Harness {
		cfg, _ := testenv.RedisTLS(t)
		rdb := store.NewClient(cfg)
		t.Cleanup(func() { rdb.Close() })
		return redisHarness(t, rdb)
	})
}

// TestCheck: what a retry cannot fix is reported at start, clearly and at
// once; a server that is merely not up yet is not.
func TestCheck(t *testing.T) {
	t.Parallel()
	check := func(t *testing.T, cfg store.Config) error {
		t.Helper()
		client := store.NewClient(cfg)
		defer client.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // a bound, not a timing under test
		defer cancel()
		return store.Check(ctx, cfg, client)
	}
	misconfigured := func(t *testing.T, err error, names string) {
		t.Helper()
		if !errors.Is(err, store.ErrMisconfigured) || !strings.Contains(err.Error(), names) {
			t.Fatalf("Check = %v, want ErrMisconfigured naming %s", err, names)
		}
	}

	t.Run("AcceptsTheRightConfiguration", func(t *testing.T) {
		t.Parallel()
		cfg, _ := testenv.RedisTLS(t)
		if err := check(t, cfg); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("RefusesAWrongPassword", func(t *testing.T) {
		t.Parallel()
		cfg, _ := testenv.RedisTLS(t)
		cfg.Password = "guess"
		misconfigured(t, check(t, cfg), "redis.password")
	})

	t.Run("RefusesAServerCertificateFromAnUnknownCA", func(t *testing.T) {
		t.Parallel()
		cfg, settings := testenv.RedisTLS(t)
		settings.TLS.CAFile = filepath.Join(testenv.Certs(t), "other-ca.pem")
		cfg.TLS, _ = settings.TLS.Config()
		misconfigured(t, check(t, cfg), "redis.tls.ca_file")
	})

	t.Run("RefusesAPlaintextClientOnTheTLSPort", func(t *testing.T) {
		t.Parallel()
		cfg, _ := testenv.RedisTLS(t)
		cfg.TLS = nil
		misconfigured(t, check(t, cfg), "redis.tls.enabled")
	})

	t.Run("RefusesATLSClientOnAPlaintextPort", func(t *testing.T) {
		t.Parallel()
		tlsCfg, _ := testenv.RedisTLS(t)
		misconfigured(t, check(t, store.Config{Addrs: []string{testenv.RedisAddr(t)}, TLS: tlsCfg.TLS}), "redis.tls")
	})

	t.Run("ToleratesAServerThatIsNotUpYet", func(t *testing.T) {
		t.Parallel()
		if err := check(t, store.Config{Addrs: []string{"127.0.0.1:1"}}); err != nil {
			t.Fatalf("Check = %v, want nil: readiness reports an unreachable server", err)
		}
	})
}

// redisHarness is a Redis store on rdb under a key prefix of the test's own.
func redisHarness(t *testing.T, rdb redis.UniversalClient) storetest.Harness {
	prefix := "sumprimes-test:" + testenv.Unique() + ":"
	s := store.NewRedis(rdb, prefix, storetest.TTL)
	return storetest.Harness{Store: s, RecordTTL: func(id string) time.Duration {
		ttl := rdb.PTTL(context.Background(), s.Key(id)).Val()
		if ttl < 0 {
			return -1
		}
		return ttl
	}, Wipe: func() { wipe(t, rdb, prefix) }}
}

// wipe deletes every key under prefix, on every node of a cluster.
func wipe(t *testing.T, rdb redis.UniversalClient, prefix string) {
	ctx := context.Background()
	del := func(ctx context.Context, node redis.UniversalClient) error {
		for it := node.Scan(ctx, 0, prefix+"*", 100).Iterator(); it.Next(ctx); {
			if err := node.Del(ctx, it.Val()).Err(); err != nil {
				return err
			}
		}
		return nil
	}
	var err error
	if cluster, ok := rdb.(*redis.ClusterClient); ok {
		err = cluster.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error { return del(ctx, node) })
	} else {
		err = del(ctx, rdb)
	}
	if err != nil {
		t.Fatalf("wipe: %v", err)
	}
}

func TestMemory(t *testing.T) {
	t.Parallel()
	storetest.Exercise(t, func(t *testing.T) storetest.Harness {
		s := store.NewMemory(storetest.TTL, nil)
		return storetest.Harness{Store: s, RecordTTL: s.TTL, Wipe: s.Wipe}
	})

	t.Run("ExpiresFinalRecordsOnItsClock", func(t *testing.T) {
		t.Parallel()
		clock := time.Now()
		s := store.NewMemory(time.Minute, func() time.Time { return clock })
		ctx := context.Background()
		j := job.Job{RequestID: "id-1", A: 1, B: 10, CreatedAt: clock}
		_ = s.Create(ctx, job.Pending(j))
		clock = clock.Add(time.Hour)
		if _, err := s.Get(ctx, "id-1"); err != nil {
			t.Fatalf("pending record after an hour: %v, want it kept", err)
		}
		_ = s.Put(ctx, j.Finished("17", clock))
		clock = clock.Add(time.Minute)
		if _, err := s.Get(ctx, "id-1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("final record after its TTL: %v, want ErrNotFound", err)
		}
	})
}
