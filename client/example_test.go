package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/pihu-ai/pihu/client"
)

// This example creates a key that can schedule interviews and read
// candidates, then schedules an interview with it.
func Example() {
	ctx := context.Background()
	c, err := client.New(client.Config{
		BaseURL: "http://127.0.0.1:8080",
		APIKey:  os.Getenv("PIHU_API_KEY"),
	})
	if err != nil {
		log.Fatal(err)
	}

	key, err := c.CreateKey(ctx, client.KeyParams{
		Name:        "Scheduler",
		Permissions: []string{"interview:write", "candidate:write"},
		Expiration:  "30d",
	})
	var apiErr *client.Error
	if errors.As(err, &apiErr) && apiErr.Code == "insufficient_permissions" {
		log.Fatalf("this key may not give %s", apiErr.Required)
	} else if err != nil {
		log.Fatal(err)
	}
	fmt.Println("created", key.ID, "expiring", key.Expires) // key.Key is the secret: store it now

	scheduler, err := client.New(client.Config{BaseURL: "http://127.0.0.1:8080", APIKey: key.Key})
	if err != nil {
		log.Fatal(err)
	}
	cand, err := scheduler.CreateCandidate(ctx, client.CandidateParams{Name: "Ada Lovelace", Email: "ada@example.com"})
	if err != nil {
		log.Fatal(err)
	}
	iv, err := scheduler.CreateInterview(ctx, client.InterviewParams{CandidateID: cand.ID, Position: "Backend engineer"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(iv.ID, iv.Status)
}
