package job

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/sumprimes/sumprimes/pkg/primes"
)

// plainJob and plainRecord are Job and Record without their MarshalJSON:
// encoding/json encodes them by reflection, the reference for ours.
type plainJob Job

type plainRecord struct {
	plainJob
	Status     Status     `json:"status"`
	Payload    *string    `json:"payload"`
	Error      string     `json:"error,omitempty"`
	Progress   *float64   `json:"progress,omitempty"`
	Tasks      int        `json:"tasks,omitempty"`
	TasksDone  int        `json:"tasksDone,omitempty"`
	FinishedAt *time.Time `json:"finishedAt,omitempty"`
}

// TestPlainRecordMirrorsRecord keeps the reference in step: a field added
// to Record must be added to plainRecord (and to MarshalJSON, which the
// next test then checks).
func TestPlainRecordMirrorsRecord(t *testing.T) {
	ours, mirror := reflect.TypeFor[Record](), reflect.TypeFor[plainRecord]()
	if ours.NumField() != mirror.NumField() {
		t.Fatalf("Record has %d fields, plainRecord %d", ours.NumField(), mirror.NumField())
	}
	for i := 1; i < ours.NumField(); i++ { // field 0 is the embedded job
		a, b := ours.Field(i), mirror.Field(i)
		if a.Name != b.Name || a.Type != b.Type || a.Tag != b.Tag {
			t.Errorf("field %d: Record has %s %s %q, plainRecord %s %s %q", i, a.Name, a.Type, a.Tag, b.Name, b.Type, b.Tag)
		}
	}
}

// TestMarshalJSONMatchesEncodingJSON fills every field, or leaves it
// empty, at random, with strings that need escaping among them, and
// compares the bytes with encoding/json's.
func TestMarshalJSONMatchesEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 5000 {
		rec := randomRecord(rng)
		want, err := json.Marshal(plainRecord{plainJob(rec.Job), rec.Status, rec.Payload, rec.Error, rec.Progress, rec.Tasks, rec.TasksDone, rec.FinishedAt})
		if err != nil {
			t.Fatal(err)
		}
		got, err := json.Marshal(rec)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("record %d:\n got %s (%v)\nwant %s", i, got, err, want)
		}
		if got, want := encode(t, rec), encode(t, plainRecord{plainJob(rec.Job), rec.Status, rec.Payload, rec.Error, rec.Progress, rec.Tasks, rec.TasksDone, rec.FinishedAt}); got != want {
			t.Fatalf("record %d, HTML left as it is:\n got %s\nwant %s", i, got, want)
		}
		want, _ = json.Marshal(plainJob(rec.Job))
		if got, err = json.Marshal(rec.Job); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("job %d:\n got %s (%v)\nwant %s", i, got, err, want)
		}
	}
}

// TestMarshalJSONRefusesWhatTimeRefuses: a year past 9999 is an error, as
// encoding/json makes it.
func TestMarshalJSONRefusesWhatTimeRefuses(t *testing.T) {
	j := Job{RequestID: "x", CreatedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}
	if _, err := json.Marshal(j); err == nil {
		t.Fatal("a job created in the year 10000 encoded")
	}
	if _, err := json.Marshal(Record{Job: j}); err == nil {
		t.Fatal("a record created in the year 10000 encoded")
	}
}

// encode is v as the API writes its answers: < > & not escaped.
func encode(t *testing.T, v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// randomRecord fills every field of a record, or leaves it empty, at
// random, with strings that need escaping among them.
func randomRecord(rng *rand.Rand) Record {
	texts := []string{"", "plain", `quote " and \ back`, "<html> & co", "tab\tnew\nline", "ünïcødé", "\u2028", "\x7f\xff bad utf-8"}
	text := func() string { return texts[rng.IntN(len(texts))] }
	maybe := func() bool { return rng.IntN(2) == 0 }
	var rec Record
	for f := range reflect.TypeFor[Job]().NumField() { // every string field of the job
		if v := reflect.ValueOf(&rec.Job).Elem().Field(f); v.Kind() == reflect.String && maybe() {
			v.SetString(text())
		}
	}
	rec.TraceParent = "" // not encoded
	rec.A, rec.B = rng.Uint64()>>rng.IntN(64), rng.Uint64()
	rec.CreatedAt = time.Unix(rng.Int64N(1<<34), rng.Int64N(1e9)*int64(rng.IntN(2))).UTC()
	if maybe() {
		rec.Plan = Plan{Engine: primes.Engine(text()), Estimate: time.Duration(rng.Int64() - 1<<62)}
	}
	rec.Status, rec.Error = Status(text()), text()
	if maybe() {
		rec.Tasks, rec.TasksDone = rng.IntN(100), rng.IntN(100)
	}
	if rng.IntN(8) == 0 {
		rec.Task = &Task{Index: rng.IntN(9), Count: 9, Piece: primes.Piece{Kind: primes.HardPiece, X: rng.Uint64(), Lo: 3, Hi: 7, Estimate: time.Second}}
	}
	if maybe() {
		s := text()
		rec.Payload = &s
	}
	if maybe() {
		p := []float64{0, 1, 0.5, rng.Float64(), 1e-7, 123456789e15}[rng.IntN(6)]
		rec.Progress = &p
	}
	if maybe() {
		at := rec.CreatedAt.Add(time.Duration(rng.Int64N(1e12)))
		if maybe() {
			at = at.In(time.FixedZone("", 3600)) // not UTC: time's own MarshalJSON
		}
		rec.FinishedAt = &at
	}
	return rec
}

// TestDecodeReadsWhatMarshalJSONWrites: every record and job comes back
// as encoding/json reads it back, most of them by the one-pass reader.
func TestDecodeReadsWhatMarshalJSONWrites(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	fast := 0
	for range 5000 {
		rec := randomRecord(rng)
		data, err := rec.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		checkDecode(t, data)
		if _, ok := fastRecord(data); ok {
			fast++
		}
		data, _ = rec.Job.MarshalJSON()
		checkDecode(t, data)
	}
	if fast == 0 {
		t.Fatal("the one-pass reader took none of 5000 records")
	}
	// The records the service writes all take the one pass.
	j := New(1, 1000, primes.PlanRange(1, 1000), "https://example.com/done", time.Now().UTC(), "g1")
	j.Owner, j.Lane, j.Batch = "client-a", Heavy, j.RequestID
	p := 0.25
	for _, rec := range []Record{Pending(j), {Job: j, Status: InProgress, Progress: &p}, j.Finished("76127", time.Now().UTC()), j.Failed("too big", time.Now().UTC())} {
		data, _ := rec.MarshalJSON()
		if got, ok := fastRecord(data); !ok || !reflect.DeepEqual(got, rec) {
			t.Errorf("fastRecord(%s) = %+v, %v", data, got, ok)
		}
	}
}

// FuzzDecode: whatever the bytes, DecodeRecord and DecodeJob agree with
// encoding/json, record and error alike. go test -fuzz FuzzDecode ./pkg/job
func FuzzDecode(f *testing.F) {
	rng := rand.New(rand.NewPCG(5, 6))
	for range 20 {
		data, _ := randomRecord(rng).MarshalJSON()
		f.Add(data)
	}
	f.Add([]byte(`{"requestId":"x","a":01,"b":2,"createdAt":"2026-01-01T00:00:00Z","status":"FINISHED","payload":null}`))
	f.Add([]byte(`{"requestId":"x","a":1,"b":2,"createdAt":"2026-01-01T00:00:00Z","status":"IN_PROGRESS","payload":null,"progress":+1}`))
	f.Fuzz(func(t *testing.T, data []byte) { checkDecode(t, data) })
}

func checkDecode(t *testing.T, data []byte) {
	t.Helper()
	var want Record
	wantErr := json.Unmarshal(data, &want)
	got, err := DecodeRecord(data)
	if (err != nil) != (wantErr != nil) || err == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("DecodeRecord(%s) = %+v, %v; encoding/json: %+v, %v", data, got, err, want, wantErr)
	}
	var wantJob Job
	wantErr = json.Unmarshal(data, &wantJob)
	gotJob, err := DecodeJob(data)
	if (err != nil) != (wantErr != nil) || err == nil && !reflect.DeepEqual(gotJob, wantJob) {
		t.Fatalf("DecodeJob(%s) = %+v, %v; encoding/json: %+v, %v", data, gotJob, err, wantJob, wantErr)
	}
}
