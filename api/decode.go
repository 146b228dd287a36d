package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// submitRequest is the body of POST /sumPrime.
type submitRequest struct {
	A, B        uint64
	CallbackURL string
}

// decodeSubmit parses the body strictly: a JSON object with exactly the
// integer fields a and b. Each failure names the field at fault.
func decodeSubmit(body []byte) (submitRequest, *Problem) {
	if req, ok := plainSubmit(body); ok {
		return req, nil
	}
	return decodeJSON(body)
}

// decodeJSON is decodeSubmit's full parse, with encoding/json.
func decodeJSON(body []byte) (submitRequest, *Problem) {
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&fields); err != nil || fields == nil {
		return submitRequest{}, badField("", `body must be a JSON object such as {"a": 1, "b": 1000}`)
	}
	if dec.More() {
		return submitRequest{}, badField("", "body must hold a single JSON object")
	}
	if name := repeatedKey(body); name != "" {
		return submitRequest{}, badField(name, fmt.Sprintf("field %q appears more than once", name))
	}
	for name := range fields {
		if name != "a" && name != "b" && name != "callbackUrl" {
			return submitRequest{}, badField(name, fmt.Sprintf("unknown field %q: only a, b and callbackUrl are accepted", name))
		}
	}
	var req submitRequest
	var p *Problem
	if req.A, p = positiveInt("a", fields); p != nil {
		return submitRequest{}, p
	}
	if req.B, p = positiveInt("b", fields); p != nil {
		return submitRequest{}, p
	}
	if raw, ok := fields["callbackUrl"]; ok {
		if err := json.Unmarshal(raw, &req.CallbackURL); err != nil || req.CallbackURL == "" {
			return submitRequest{}, badField("callbackUrl", "callbackUrl must be a non-empty string")
		}
	}
	return req, nil
}

// positiveInt reads fields[name] as a JSON integer ≥ 1 that fits in a uint64.
func positiveInt(name string, fields map[string]json.RawMessage) (uint64, *Problem) {
	raw, ok := fields[name]
	if !ok {
		return 0, badField(name, fmt.Sprintf("%s is required", name))
	}
	text := string(bytes.TrimSpace(raw))
	kind := "a number"
	switch text[0] {
	case '"':
		kind = "a string"
	case 't', 'f':
		kind = "a boolean"
	case 'n':
		kind = "null"
	case '{':
		kind = "an object"
	case '[':
		kind = "an array"
	}
	if kind != "a number" {
		return 0, badField(name, fmt.Sprintf("%s must be an integer, got %s", name, kind))
	}
	if bytes.ContainsAny(raw, ".eE") {
		return 0, badField(name, fmt.Sprintf("%s must be an integer, got %s", name, text))
	}
	if text[0] == '-' {
		return 0, badField(name, fmt.Sprintf("%s must be at least 1, got %s", name, text))
	}
	v, err := strconv.ParseUint(text, 10, 64)
	if err != nil {
		return 0, badField(name, fmt.Sprintf("%s is too large: %s", name, text))
	}
	if v < 1 {
		return 0, badField(name, fmt.Sprintf("%s must be at least 1, got %d", name, v))
	}
	return v, nil
}

// repeatedKey returns the first key that the JSON object in body holds
// twice, or "" when none is: decoding would keep the last silently.
func repeatedKey(body []byte) string {
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return ""
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return ""
		}
		name, _ := t.(string)
		if seen[name] {
			return name
		}
		seen[name] = true
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return ""
		}
	}
	return ""
}

// plainSubmit reads the body every client sends, {"a": A, "b": B} (in
// either order, any JSON white space, A and B plain integers from 1 to
// 2^64 − 1), in one pass with no allocation. It reports false for anything
// else, which decodeSubmit then parses in full, to name what is wrong or
// to take a callbackUrl: a body it accepts decodes to the same values
// there (FuzzPlainSubmit checks it).
func plainSubmit(body []byte) (req submitRequest, ok bool) {
	i := 0
	ws := func() {
		for i < len(body) && (body[i] == ' ' || body[i] == '\t' || body[i] == '\n' || body[i] == '\r') {
			i++
		}
	}
	ws()
	if i == len(body) || body[i] != '{' {
		return req, false
	}
	i++
	var seen [2]bool
	for {
		ws()
		if i+4 > len(body) || body[i] != '"' || body[i+2] != '"' {
			return req, false
		}
		k := int(body[i+1]) - 'a' // 0 for a, 1 for b
		if k != 0 && k != 1 || seen[k] {
			return req, false
		}
		seen[k] = true
		i += 3
		ws()
		if i == len(body) || body[i] != ':' {
			return req, false
		}
		i++
		ws()
		start := i
		var v uint64
		for ; i < len(body) && '0' <= body[i] && body[i] <= '9'; i++ {
			d := uint64(body[i] - '0')
			if v > (1<<64-1-d)/10 {
				return req, false // past 2^64 − 1
			}
			v = v*10 + d
		}
		if i == start || v == 0 || body[start] == '0' { // none, zero, or a leading zero
			return req, false
		}
		if k == 0 {
			req.A = v
		} else {
			req.B = v
		}
		ws()
		if i == len(body) {
			return req, false
		}
		switch body[i] {
		case ',':
			i++
			continue
		case '}':
			i++
			ws()
			return req, i == len(body) && seen[0] && seen[1]
		}
		return req, false
	}
}
