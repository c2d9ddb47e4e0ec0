// Package sdmx reads the parts of SDMX 2.1 messages the platform needs from every SDMX source: the
// annotations of a dataflow (Eurostat's UPDATE_DATA, Istat's LAST_UPDATE) and the footer messages of a
// data message (Eurostat's legacy deferred delivery).
package sdmx

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// DataflowAnnotations returns the annotations of the dataflow with the given id (any id when id is ""),
// keyed by annotation type (or id, as Istat writes them), valued by the title.
func DataflowAnnotations(r io.Reader, id string) (map[string]string, error) {
	dec := xml.NewDecoder(r)
	var (
		inFlow  bool
		depth   int
		annType string
		annID   string
		title   string
		field   string
		found   bool
		out     = map[string]string{}
	)
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("structure message: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if inFlow {
				depth++
			}
			switch t.Name.Local {
			case "Dataflow":
				if !inFlow && (id == "" || strings.EqualFold(attr(t, "id"), id)) {
					inFlow, depth, found = true, 0, true
				}
			case "Annotation":
				annType, title, annID = "", "", attr(t, "id")
			case "AnnotationTitle", "AnnotationType":
				field = t.Name.Local
			}
		case xml.CharData:
			switch field {
			case "AnnotationTitle":
				title += string(t)
			case "AnnotationType":
				annType += string(t)
			}
		case xml.EndElement:
			if inFlow {
				switch t.Name.Local {
				case "Annotation":
					key := strings.TrimSpace(annType)
					if key == "" {
						key = annID
					}
					if key != "" {
						if _, dup := out[key]; !dup {
							out[key] = strings.TrimSpace(title)
						}
					}
				case "Dataflow":
					if depth == 0 {
						return out, nil
					}
				}
				depth--
			}
			field = ""
		}
	}
	if !found {
		return nil, errors.New("structure message has no dataflow " + id)
	}
	return out, nil
}

func attr(t xml.StartElement, name string) string {
	for _, a := range t.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// FooterMessage is one message of an SDMX 2.1 data message footer.
type FooterMessage struct {
	Code     string
	Severity string
	Text     []string
}

// Footer returns the footer messages of an SDMX-ML data message.
func Footer(r io.Reader) ([]FooterMessage, error) {
	dec := xml.NewDecoder(r)
	var (
		out    []FooterMessage
		cur    *FooterMessage
		inText bool
		text   string
	)
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("data message: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Local == "Message" && strings.Contains(t.Name.Space, "footer") {
				out = append(out, FooterMessage{Code: attr(t, "code"), Severity: attr(t, "severity")})
				cur = &out[len(out)-1]
			} else if cur != nil && t.Name.Local == "Text" {
				inText, text = true, ""
			}
		case xml.CharData:
			if inText {
				text += string(t)
			}
		case xml.EndElement:
			if inText && t.Name.Local == "Text" {
				cur.Text = append(cur.Text, strings.TrimSpace(text))
				inText = false
			}
			if t.Name.Local == "Message" {
				cur = nil
			}
		}
	}
}

// DimensionOrder returns the ids of the dimensions of the first data structure definition in a structure
// message, in key order (by position; the time dimension is not part of a key).
func DimensionOrder(r io.Reader) ([]string, error) {
	dec := xml.NewDecoder(r)
	type dim struct {
		id  string
		pos int
	}
	var dims []dim
	inList := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("structure message: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "DimensionList":
				inList = true
			case "Dimension":
				if inList {
					var p int
					fmt.Sscanf(attr(t, "position"), "%d", &p)
					dims = append(dims, dim{id: attr(t, "id"), pos: p})
				}
			}
		case xml.EndElement:
			if t.Name.Local == "DimensionList" && inList {
				sort.SliceStable(dims, func(i, j int) bool { return dims[i].pos < dims[j].pos })
				out := make([]string, len(dims))
				for i, d := range dims {
					out[i] = d.id
				}
				return out, nil
			}
		}
	}
	return nil, errors.New("structure message has no DimensionList")
}
