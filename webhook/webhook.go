// Package webhook sends release notifications signed per Standard Webhooks (webhook-id, webhook-timestamp,
// webhook-signature: HMAC-SHA256 of "id.timestamp.body" with the endpoint's secret), with the reference
// library github.com/standard-webhooks/standard-webhooks/libraries.
package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// EventRelease is the type of the notification of a release.
const EventRelease = "release.published"

// Message is the body of a notification.
type Message struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      any       `json:"data"`
}

// Sender posts signed notifications.
type Sender struct {
	Client *http.Client
}

// NewSender returns a sender whose requests time out after timeout and follow no redirect.
func NewSender(timeout time.Duration) *Sender {
	return &Sender{Client: &http.Client{Timeout: timeout, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// ErrRejected is an answer other than 2xx.
var ErrRejected = errors.New("the endpoint did not accept the notification")

// Send posts body to url signed with secret under message id (the same for every attempt of one message,
// so that the receiver can drop repeats). Any 2xx is success.
func (s *Sender) Send(ctx context.Context, url, secret, id string, body []byte, now time.Time) error {
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		return fmt.Errorf("webhook secret: %w", err)
	}
	sig, err := wh.Sign(id, now, body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "osservatorio-webhooks/1")
	req.Header.Set(standardwebhooks.HeaderWebhookID, id)
	req.Header.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(standardwebhooks.HeaderWebhookSignature, sig)
	resp, err := s.Client.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", url, err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("POST %s: HTTP %d %s: %w", url, resp.StatusCode, bytes.TrimSpace(snippet), ErrRejected)
	}
	return nil
}
