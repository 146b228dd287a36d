package job

import (
	"encoding/json"
	"strconv"
	"time"
)

// Jobs and records are encoded on every submit, several times over (the
// Kafka message, the stored record, the answer, the worker's result), and
// encoding/json's reflection took about a twelfth of the API's CPU a job.
// MarshalJSON writes the same bytes as the field tags above would (the
// tests compare the two on every field), straight into a buffer.

// MarshalJSON encodes j as its field tags say.
func (j Job) MarshalJSON() ([]byte, error) {
	b, err := j.appendFields(append(make([]byte, 0, 320), '{'))
	if err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

// MarshalJSON encodes rec as its field tags say: the job's fields, then
// the record's own.
func (rec Record) MarshalJSON() ([]byte, error) {
	b, err := rec.appendFields(append(make([]byte, 0, 384), '{'))
	if err != nil {
		return nil, err
	}
	b = append(b, `,"status":`...)
	b = appendString(b, string(rec.Status))
	b = append(b, `,"payload":`...)
	if rec.Payload == nil {
		b = append(b, "null"...)
	} else {
		b = appendString(b, *rec.Payload)
	}
	if rec.Error != "" {
		b = append(b, `,"error":`...)
		b = appendString(b, rec.Error)
	}
	if rec.Progress != nil {
		p, err := json.Marshal(*rec.Progress) // encoding/json's own float format
		if err != nil {
			return nil, err
		}
		b = append(append(b, `,"progress":`...), p...)
	}
	if rec.FinishedAt != nil {
		if b, err = appendTime(append(b, `,"finishedAt":`...), *rec.FinishedAt); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

// appendFields appends j's fields, without the braces.
func (j Job) appendFields(b []byte) ([]byte, error) {
	b = append(b, `"requestId":`...)
	b = appendString(b, j.RequestID)
	b = strconv.AppendUint(append(b, `,"a":`...), j.A, 10)
	b = strconv.AppendUint(append(b, `,"b":`...), j.B, 10)
	b, err := appendTime(append(b, `,"createdAt":`...), j.CreatedAt)
	if err != nil {
		return nil, err
	}
	b = appendOmitEmpty(b, `,"callbackUrl":`, j.CallbackURL)
	b = appendOmitEmpty(b, `,"owner":`, j.Owner)
	if j.Plan != (Plan{}) {
		b = appendString(append(b, `,"plan":{"engine":`...), string(j.Plan.Engine))
		b = strconv.AppendInt(append(b, `,"estimateNs":`...), int64(j.Plan.Estimate), 10)
		b = append(b, '}')
	}
	b = appendOmitEmpty(b, `,"generation":`, j.Generation)
	b = appendOmitEmpty(b, `,"lane":`, string(j.Lane))
	return appendOmitEmpty(b, `,"batch":`, j.Batch), nil
}

func appendOmitEmpty(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return appendString(append(b, key...), s)
}

// appendString quotes s as encoding/json does: printable ASCII as it is,
// anything else to escape (quotes, control bytes, non-ASCII) by
// encoding/json itself. (<, > and & are left to the encoder that calls
// MarshalJSON, which escapes them or not as it was told.)
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7F || c == '"' || c == '\\' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendTime writes t as time.Time's MarshalJSON does (RFC 3339 with
// nanoseconds, trailing zeros dropped), by that method itself unless t is
// a UTC time of years 0–9999, as every time this package makes is.
func appendTime(b []byte, t time.Time) ([]byte, error) {
	if y := t.Year(); y < 0 || y > 9999 || t.Location() != time.UTC {
		q, err := t.MarshalJSON()
		return append(b, q...), err
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), nil
}
