package integration

import (
	"encoding/json"
	"reflect"
	"strings"
)

// fromCLI decodes what a command printed with --json (snake_case field names, whatever the record's own
// style) into v: each key is matched to v's field of the same letters and digits, case and underscores
// aside (raw_sha256 → RawSHA256 or rawSha256); map keys, which are data, are kept.
func fromCLI(out string, v any) error {
	var raw any
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		return err
	}
	data, err := json.Marshal(rekey(raw, reflect.TypeOf(v)))
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

func rekey(x any, t reflect.Type) any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch val := x.(type) {
	case map[string]any:
		switch t.Kind() {
		case reflect.Struct:
			names, types := map[string]string{}, map[string]reflect.Type{}
			jsonFields(t, names, types)
			out := make(map[string]any, len(val))
			for k, v := range val {
				if name, ok := names[squash(k)]; ok {
					out[name] = rekey(v, types[name])
				} else {
					out[k] = v
				}
			}
			return out
		case reflect.Map:
			for k, v := range val {
				val[k] = rekey(v, t.Elem())
			}
		}
	case []any:
		if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			for i := range val {
				val[i] = rekey(val[i], t.Elem())
			}
		}
	}
	return x
}

// jsonFields maps the squashed JSON name of each field of struct t (embedded ones flattened) to its name.
func jsonFields(t reflect.Type, names map[string]string, types map[string]reflect.Type) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if f.Anonymous && name == "" && ft.Kind() == reflect.Struct {
			jsonFields(ft, names, types)
			continue
		}
		if name == "" {
			name = f.Name
		}
		names[squash(name)], types[name] = name, f.Type
	}
}

func squash(s string) string { return strings.ToLower(strings.ReplaceAll(s, "_", "")) }
