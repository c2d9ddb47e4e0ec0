// Package jsonstat decodes JSON-stat 2.0 datasets (https://json-stat.org/format/), the format of Eurostat's
// statistics API: dense or sparse values and statuses keyed by the row-major flat index over the dimensions.
package jsonstat

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
)

// Dataset is a decoded JSON-stat 2.0 dataset.
type Dataset struct {
	Version   string
	Class     string
	Label     string
	Source    string
	Updated   string
	ID        []string // dimension ids in order
	Size      []int    // categories per dimension
	Dimension map[string]Dimension
	Extension Extension

	values    map[int]*float64 // flat index → value (nil for a null value)
	status    map[int]string   // flat index → status flag
	allStatus string           // a status given once for every cell
}

// Dimension is one dimension: its category codes in index order, with labels.
type Dimension struct {
	Label  string
	Codes  []string
	Labels map[string]string
}

// Extension is Eurostat's extension object.
type Extension struct {
	Lang        string       `json:"lang"`
	ID          string       `json:"id"`
	AgencyID    string       `json:"agencyId"`
	Version     string       `json:"version"`
	Annotations []Annotation `json:"annotation"`
	Status      struct {
		Label map[string]string `json:"label"`
	} `json:"status"`
}

// Annotation is one Eurostat annotation (UPDATE_DATA, OBS_COUNT …).
type Annotation struct {
	Type  string `json:"type"`
	Title string `json:"title"`
	Date  string `json:"date"`
}

// Annotation returns the date or title of the annotation of type t, or "".
func (e Extension) Annotation(t string) string {
	for _, a := range e.Annotations {
		if a.Type == t {
			if a.Date != "" {
				return a.Date
			}
			return a.Title
		}
	}
	return ""
}

// Problem is an error-or-warning object a JSON-stat service returns in place of data.
type Problem struct {
	Status int    `json:"status"`
	ID     int    `json:"id"`
	Label  string `json:"label"`
}

// ErrorResponse is a service's {"error": …} answer in place of a dataset.
type ErrorResponse struct{ Problems []Problem }

func (e *ErrorResponse) Error() string {
	if len(e.Problems) == 0 {
		return "error response"
	}
	return fmt.Sprintf("error %d: %s", e.Problems[0].Status, e.Problems[0].Label)
}

// WarningResponse is a service's {"warning": …} answer with no values, e.g. Eurostat's asynchronous
// extraction ("status": 413).
type WarningResponse struct{ Problem Problem }

func (w *WarningResponse) Error() string {
	return fmt.Sprintf("warning %d: %s", w.Problem.Status, w.Problem.Label)
}

// ErrNotJSONStat2 is returned for JSON that is not a JSON-stat 2.0 dataset (for example a JSON-stat 1.0
// bundle of the retired Eurostat wdds service).
var ErrNotJSONStat2 = errors.New("not a JSON-stat 2.0 dataset")

type rawDataset struct {
	Version   string                     `json:"version"`
	Class     string                     `json:"class"`
	Label     string                     `json:"label"`
	Source    string                     `json:"source"`
	Updated   string                     `json:"updated"`
	ID        []string                   `json:"id"`
	Size      []int                      `json:"size"`
	Value     json.RawMessage            `json:"value"`
	Status    json.RawMessage            `json:"status"`
	Dimension map[string]rawDimension    `json:"dimension"`
	Extension Extension                  `json:"extension"`
	Error     json.RawMessage            `json:"error"`
	Warning   json.RawMessage            `json:"warning"`
	Extra     map[string]json.RawMessage `json:"-"`
}

type rawDimension struct {
	Label    string `json:"label"`
	Category struct {
		Index json.RawMessage   `json:"index"`
		Label map[string]string `json:"label"`
	} `json:"category"`
}

// Decode reads one JSON-stat 2.0 dataset from r.
func Decode(r io.Reader) (*Dataset, error) {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	var raw rawDataset
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("malformed JSON: %w", err)
	}
	if dec.More() {
		return nil, errors.New("malformed JSON: data after the dataset")
	}
	if len(raw.Error) > 0 && string(raw.Error) != "null" {
		return nil, decodeError(raw.Error)
	}
	if len(raw.Warning) > 0 && string(raw.Warning) != "null" && len(raw.Value) == 0 {
		var p Problem
		if err := json.Unmarshal(raw.Warning, &p); err != nil {
			var ps []Problem
			if err := json.Unmarshal(raw.Warning, &ps); err == nil && len(ps) > 0 {
				p = ps[0]
			}
		}
		return nil, &WarningResponse{Problem: p}
	}
	if raw.Class != "dataset" || raw.Version != "2.0" {
		return nil, fmt.Errorf("%w: version %q, class %q", ErrNotJSONStat2, raw.Version, raw.Class)
	}
	if len(raw.ID) == 0 || len(raw.ID) != len(raw.Size) {
		return nil, fmt.Errorf("%w: id has %d dimensions, size %d", ErrNotJSONStat2, len(raw.ID), len(raw.Size))
	}
	ds := &Dataset{
		Version: raw.Version, Class: raw.Class, Label: raw.Label, Source: raw.Source, Updated: raw.Updated,
		ID: raw.ID, Size: raw.Size, Extension: raw.Extension, Dimension: map[string]Dimension{},
	}
	total := 1
	for i, id := range raw.ID {
		rd, ok := raw.Dimension[id]
		if !ok {
			return nil, fmt.Errorf("dimension %q is listed in id but not described", id)
		}
		codes, err := categoryCodes(rd.Category.Index, rd.Category.Label)
		if err != nil {
			return nil, fmt.Errorf("dimension %q: %w", id, err)
		}
		if len(codes) != raw.Size[i] {
			return nil, fmt.Errorf("dimension %q has %d categories but size says %d", id, len(codes), raw.Size[i])
		}
		if raw.Size[i] <= 0 {
			return nil, fmt.Errorf("dimension %q has size %d", id, raw.Size[i])
		}
		ds.Dimension[id] = Dimension{Label: rd.Label, Codes: codes, Labels: rd.Category.Label}
		if total > (1<<40)/raw.Size[i] {
			return nil, errors.New("dimension sizes overflow")
		}
		total *= raw.Size[i]
	}
	var err error
	if ds.values, err = decodeValues(raw.Value, total); err != nil {
		return nil, fmt.Errorf("value: %w", err)
	}
	if ds.status, ds.allStatus, err = decodeStatus(raw.Status, total); err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	return ds, nil
}

func decodeError(msg json.RawMessage) error {
	var ps []Problem
	if err := json.Unmarshal(msg, &ps); err != nil {
		var p Problem
		if err := json.Unmarshal(msg, &p); err != nil {
			return &ErrorResponse{Problems: []Problem{{Label: string(msg)}}}
		}
		ps = []Problem{p}
	}
	return &ErrorResponse{Problems: ps}
}

// categoryCodes returns the category codes in index order. index is an array of codes or an object
// code → position; a dimension with a single category may omit it and list only labels.
func categoryCodes(index json.RawMessage, labels map[string]string) ([]string, error) {
	if len(index) == 0 || string(index) == "null" {
		if len(labels) != 1 {
			return nil, errors.New("category index missing")
		}
		for k := range labels {
			return []string{k}, nil
		}
	}
	var arr []string
	if err := json.Unmarshal(index, &arr); err == nil {
		return arr, nil
	}
	var obj map[string]int
	if err := json.Unmarshal(index, &obj); err != nil {
		return nil, fmt.Errorf("category index is neither an array nor an object: %w", err)
	}
	codes := make([]string, len(obj))
	for code, pos := range obj {
		if pos < 0 || pos >= len(obj) || codes[pos] != "" {
			return nil, fmt.Errorf("category index of %q is %d: not a permutation", code, pos)
		}
		codes[pos] = code
	}
	return codes, nil
}

func decodeValues(msg json.RawMessage, total int) (map[int]*float64, error) {
	out := map[int]*float64{}
	if len(msg) == 0 || string(msg) == "null" {
		return out, nil
	}
	put := func(i int, v json.RawMessage) error {
		if i < 0 || i >= total {
			return fmt.Errorf("index %d outside the %d cells", i, total)
		}
		if string(bytes.TrimSpace(v)) == "null" {
			out[i] = nil
			return nil
		}
		var n json.Number
		if err := json.Unmarshal(v, &n); err != nil {
			return fmt.Errorf("cell %d: %s is not a number", i, v)
		}
		f, err := n.Float64()
		if err != nil {
			return fmt.Errorf("cell %d: %w", i, err)
		}
		out[i] = &f
		return nil
	}
	if msg[0] == '[' {
		var arr []json.RawMessage
		if err := json.Unmarshal(msg, &arr); err != nil {
			return nil, err
		}
		if len(arr) != total {
			return nil, fmt.Errorf("dense array has %d cells, dimensions give %d", len(arr), total)
		}
		for i, v := range arr {
			if string(v) == "null" {
				continue // a null cell in a dense array is an absent observation
			}
			if err := put(i, v); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(msg, &obj); err != nil {
		return nil, err
	}
	for k, v := range obj {
		i, err := strconv.Atoi(k)
		if err != nil {
			return nil, fmt.Errorf("key %q is not an index", k)
		}
		if err := put(i, v); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func decodeStatus(msg json.RawMessage, total int) (map[int]string, string, error) {
	out := map[int]string{}
	if len(msg) == 0 || string(msg) == "null" {
		return out, "", nil
	}
	var one string
	if err := json.Unmarshal(msg, &one); err == nil {
		return out, one, nil
	}
	if msg[0] == '[' {
		var arr []*string
		if err := json.Unmarshal(msg, &arr); err != nil {
			return nil, "", err
		}
		if len(arr) == 1 && arr[0] != nil && total != 1 {
			return out, *arr[0], nil
		}
		if len(arr) > total {
			return nil, "", fmt.Errorf("%d statuses for %d cells", len(arr), total)
		}
		for i, s := range arr {
			if s != nil && *s != "" {
				out[i] = *s
			}
		}
		return out, "", nil
	}
	var obj map[string]string
	if err := json.Unmarshal(msg, &obj); err != nil {
		return nil, "", err
	}
	for k, v := range obj {
		i, err := strconv.Atoi(k)
		if err != nil || i < 0 || i >= total {
			return nil, "", fmt.Errorf("key %q is not an index below %d", k, total)
		}
		out[i] = v
	}
	return out, "", nil
}

// Cell is one observation: its category code per dimension (in ID order), its value (nil when the cell
// has only a status), its status flag and its flat index.
type Cell struct {
	Codes  []string
	Value  *float64
	Status string
	Index  int
}

// Cells returns every cell that has a value or a status, in flat-index order.
func (d *Dataset) Cells() []Cell {
	idx := make([]int, 0, len(d.values)+len(d.status))
	for i := range d.values {
		idx = append(idx, i)
	}
	for i := range d.status {
		if _, ok := d.values[i]; !ok {
			idx = append(idx, i)
		}
	}
	sort.Ints(idx)
	out := make([]Cell, 0, len(idx))
	for _, i := range idx {
		st, ok := d.status[i]
		if !ok {
			st = d.allStatus
		}
		out = append(out, Cell{Codes: d.coords(i), Value: d.values[i], Status: st, Index: i})
	}
	return out
}

// coords turns a row-major flat index into one category code per dimension.
func (d *Dataset) coords(flat int) []string {
	codes := make([]string, len(d.ID))
	for k := len(d.ID) - 1; k >= 0; k-- {
		n := d.Size[k]
		codes[k] = d.Dimension[d.ID[k]].Codes[flat%n]
		flat /= n
	}
	return codes
}
