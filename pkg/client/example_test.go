package client_test

import (
	"context"
	"fmt"
	"log"

	"github.com/sumprimes/sumprimes/pkg/client"
)

// Sum makes the asynchronous service look synchronous.
func ExampleClient_Sum() {
	c := client.New("http://127.0.0.1:8080")
	sum, err := c.Sum(context.Background(), 1, 1_000_000)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(sum) // 37550402023
}

// Submit, then Wait with a progress callback, to show how far a long job is.
func ExampleClient_Wait() {
	ctx := context.Background()
	c := client.New("http://127.0.0.1:8080", client.WithAPIKey("my-team"))
	rec, err := c.Submit(ctx, 1, 1_000_000_000_000, client.IdempotencyKey("report-2026-11"))
	if err != nil {
		log.Fatal(err)
	}
	rec, err = c.Wait(ctx, rec.RequestID, func(r client.Record) {
		if r.Progress != nil {
			fmt.Printf("%.0f%%\n", 100**r.Progress)
		}
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(rec.Status, *rec.Payload)
}
