package job

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/sumprimes/sumprimes/pkg/primes"
)

// Jobs and records are encoded on every submit, several times over (the
// Kafka message, the stored record, the answer, the worker's result), and
// read back as often: encoding/json's reflection took about a twelfth of
// the API's CPU a job and a fifth of the worker's. MarshalJSON writes the
// same bytes as the field tags above would (the tests compare the two on
// every field), straight into a buffer; DecodeRecord and DecodeJob read
// those bytes back in one pass, and leave anything else to encoding/json.

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
	if rec.Tasks != 0 {
		b = strconv.AppendInt(append(b, `,"tasks":`...), int64(rec.Tasks), 10)
	}
	if rec.TasksDone != 0 {
		b = strconv.AppendInt(append(b, `,"tasksDone":`...), int64(rec.TasksDone), 10)
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
	b = appendOmitEmpty(b, `,"batch":`, j.Batch)
	if j.Task != nil { // a task's message: rare enough for reflection
		t, err := json.Marshal(j.Task)
		if err != nil {
			return nil, err
		}
		b = append(append(b, `,"task":`...), t...)
	}
	return b, nil
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

// DecodeRecord reads a record. A record as MarshalJSON writes it (its
// fields in that order, no white space, strings with nothing to unescape)
// is read in one pass; any other JSON goes to encoding/json, which the
// tests check gives the same record for any input.
func DecodeRecord(data []byte) (Record, error) {
	if rec, ok := fastRecord(data); ok {
		return rec, nil
	}
	var rec Record
	err := json.Unmarshal(data, &rec)
	return rec, err
}

// fastRecord is DecodeRecord's one pass: ok is false for anything
// MarshalJSON would not have written.
func fastRecord(data []byte) (rec Record, ok bool) {
	r := reader{b: data, ok: true}
	r.want("{")
	r.job(&rec.Job)
	r.want(`,"status":`)
	rec.Status = Status(r.str())
	if r.want(`,"payload":`); !r.has("null") {
		s := r.str()
		rec.Payload = &s
	}
	if r.has(`,"error":`) {
		rec.Error = r.str()
	}
	if r.has(`,"progress":`) {
		p := r.float()
		rec.Progress = &p
	}
	if r.has(`,"tasks":`) {
		rec.Tasks = int(r.int())
	}
	if r.has(`,"tasksDone":`) {
		rec.TasksDone = int(r.int())
	}
	if r.has(`,"finishedAt":`) {
		t := r.time()
		rec.FinishedAt = &t
	}
	r.want("}")
	return rec, r.ok && r.i == len(data)
}

// DecodeJob reads a job as DecodeRecord reads a record.
func DecodeJob(data []byte) (Job, error) {
	r := reader{b: data, ok: true}
	var j Job
	r.want("{")
	r.job(&j)
	if r.want("}"); r.ok && r.i == len(data) {
		return j, nil
	}
	j = Job{}
	err := json.Unmarshal(data, &j)
	return j, err
}

// reader reads JSON as MarshalJSON writes it; ok turns false at the first
// byte it does not expect, and every read after that does nothing.
type reader struct {
	b  []byte
	i  int
	ok bool
}

func (r *reader) job(j *Job) {
	r.want(`"requestId":`)
	j.RequestID = r.str()
	r.want(`,"a":`)
	j.A = r.uint()
	r.want(`,"b":`)
	j.B = r.uint()
	r.want(`,"createdAt":`)
	j.CreatedAt = r.time()
	if r.has(`,"callbackUrl":`) {
		j.CallbackURL = r.str()
	}
	if r.has(`,"owner":`) {
		j.Owner = r.str()
	}
	if r.has(`,"plan":{"engine":`) {
		j.Plan.Engine = primes.Engine(r.str())
		r.want(`,"estimateNs":`)
		j.Plan.Estimate = time.Duration(r.int())
		r.want("}")
	}
	if r.has(`,"generation":`) {
		j.Generation = r.str()
	}
	if r.has(`,"lane":`) {
		j.Lane = Lane(r.str())
	}
	if r.has(`,"batch":`) {
		j.Batch = r.str()
	}
	if r.has(`,"task":`) {
		r.ok = false // a task's message: encoding/json reads it
	}
}

// has reads s if it comes next: an optional key, or null.
func (r *reader) has(s string) bool {
	if r.ok && len(r.b)-r.i >= len(s) && string(r.b[r.i:r.i+len(s)]) == s {
		r.i += len(s)
		return true
	}
	return false
}

// want reads s, which must come next.
func (r *reader) want(s string) {
	if !r.has(s) {
		r.ok = false
	}
}

// span returns the quoted string next, quotes included, if it has nothing
// to unescape and only printable ASCII.
func (r *reader) span() []byte {
	if !r.ok || r.i >= len(r.b) || r.b[r.i] != '"' {
		r.ok = false
		return nil
	}
	for k := r.i + 1; k < len(r.b); k++ {
		switch c := r.b[k]; {
		case c == '"':
			s := r.b[r.i : k+1]
			r.i = k + 1
			return s
		case c < 0x20 || c >= 0x7F || c == '\\':
			r.ok = false
			return nil
		}
	}
	r.ok = false
	return nil
}

func (r *reader) str() string {
	if s := r.span(); s != nil {
		return string(s[1 : len(s)-1])
	}
	return ""
}

func (r *reader) time() time.Time {
	var t time.Time
	if s := r.span(); s == nil || t.UnmarshalJSON(s) != nil {
		r.ok = false
	}
	return t
}

// uint reads a JSON integer of 0 or more that fits in 64 bits.
func (r *reader) uint() uint64 {
	start := r.i
	var v uint64
	for ; r.ok && r.i < len(r.b) && '0' <= r.b[r.i] && r.b[r.i] <= '9'; r.i++ {
		d := uint64(r.b[r.i] - '0')
		if v > (1<<64-1-d)/10 {
			r.ok = false
		}
		v = v*10 + d
	}
	if r.i == start || r.b[start] == '0' && r.i > start+1 { // none, or a leading zero
		r.ok = false
	}
	return v
}

// int reads a JSON integer that fits in an int64.
func (r *reader) int() int64 {
	neg := r.ok && r.i < len(r.b) && r.b[r.i] == '-'
	if neg {
		r.i++
	}
	v := r.uint()
	if neg && v <= 1<<63 {
		return -int64(v)
	}
	if v >= 1<<63 {
		r.ok = false
	}
	return int64(v)
}

// float reads a JSON number as encoding/json reads one into a float64.
func (r *reader) float() float64 {
	start := r.i
	digits := func() bool { // one or more
		k := r.i
		for r.i < len(r.b) && '0' <= r.b[r.i] && r.b[r.i] <= '9' {
			r.i++
		}
		return r.i > k
	}
	if r.i < len(r.b) && r.b[r.i] == '-' {
		r.i++
	}
	if first := r.i; !digits() || r.b[first] == '0' && r.i > first+1 {
		r.ok = false // none, or a leading zero
	}
	if r.i < len(r.b) && r.b[r.i] == '.' {
		r.i++
		if !digits() {
			r.ok = false
		}
	}
	if r.i < len(r.b) && (r.b[r.i] == 'e' || r.b[r.i] == 'E') {
		if r.i++; r.i < len(r.b) && (r.b[r.i] == '+' || r.b[r.i] == '-') {
			r.i++
		}
		if !digits() {
			r.ok = false
		}
	}
	if !r.ok {
		return 0
	}
	f, err := strconv.ParseFloat(string(r.b[start:r.i]), 64)
	if err != nil {
		r.ok = false
	}
	return f
}
